//! `$connect`: record the connection as unauthenticated and schedule its auth deadline.
//!
//! Credentials are never read here, not even from the query string: URLs end up in
//! access logs and browser history. The client authenticates with its first frame.

use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use switchboard::connection::Connection;
use switchboard::intent::Intent;
use switchboard::limits::MAX_QUEUE_DELAY_SECS;
use switchboard::metrics::Metric;
use switchboard::queue::Outgoing;

use crate::event::WsEvent;
use crate::{Handlers, chain, response, secs};

impl Handlers {
    /// Saves the pending row, then enqueues the deadline check, delayed until the
    /// deadline. A failure of either refuses the connection and leaves no row behind: a
    /// row without its deadline check would be an unauthenticated socket left open.
    pub(crate) async fn connect(&self, event: &WsEvent) -> ApiGatewayProxyResponse {
        let id = &event.connection_id;
        let timeout = self.session.auth_timeout;
        let connected_at = event
            .connected_at
            .unwrap_or_else(|| self.clock.now_millis());
        let deadline = self.clock.now_secs().saturating_add(secs(timeout));

        let row = Connection::pending(id.clone(), connected_at, deadline);
        if let Err(e) = self.store.save_pending(&row).await {
            tracing::error!(error = %chain(&e), "saving the new connection failed");
            return response::server_error();
        }

        if let Err(e) = self.schedule_deadline(id, timeout).await {
            tracing::error!(error = %e, "scheduling the auth deadline failed");
            if let Err(e) = self.store.remove(id).await {
                tracing::error!(error = %chain(&e), "removing the unscheduled row failed");
            }
            return response::server_error();
        }

        self.metrics.put(&[(Metric::ConnectionsOpened, 1.0)]);
        tracing::info!(deadline, "connection opened");
        response::ok()
    }

    /// Enqueues the check that closes the connection if it is still unauthenticated.
    ///
    /// SQS delays at most 15 minutes, so an `AUTH_TIMEOUT_SECS` above 900 has the check
    /// run after 900 s; the row's `ttl` still carries the configured deadline.
    async fn schedule_deadline(&self, id: &str, timeout: Duration) -> Result<(), String> {
        let delay = timeout.min(Duration::from_secs(MAX_QUEUE_DELAY_SECS));
        let body = Intent::close_if_unauthenticated(id)
            .to_body()
            .map_err(|e| chain(&e))?;
        self.queue
            .send(Outgoing::delayed(body, delay))
            .await
            .map(|_| ())
            .map_err(|e| chain(&e))
    }
}
