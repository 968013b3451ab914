//! `$disconnect`: remove the connection's row.
//!
//! API Gateway delivers it at most once and sometimes never; TTL expiry and the worker's
//! pruning of `410 Gone` are the safety nets. Connection ids are never reused, so a late
//! disconnect removes only its own row, even after the same user reconnected elsewhere.

use aws_lambda_events::apigw::ApiGatewayProxyResponse;

use crate::event::WsEvent;
use crate::{Handlers, chain, response};

impl Handlers {
    /// Removes the row; removing a row that is already gone succeeds.
    pub(crate) async fn disconnect(&self, event: &WsEvent) -> ApiGatewayProxyResponse {
        match self.store.remove(&event.connection_id).await {
            Ok(()) => {
                tracing::info!("connection closed");
                response::ok()
            }
            Err(e) => {
                tracing::error!(error = %chain(&e), "removing the connection failed");
                response::server_error()
            }
        }
    }
}
