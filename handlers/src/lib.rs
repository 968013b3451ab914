//! Switchboard's route handlers: `$connect`, `$disconnect` and `$default`.
//!
//! - [`event`]: API Gateway WebSocket events, parsed leniently into [`event::WsEvent`].
//! - `connect`, `disconnect`, `message`: what each event does to the store and queue.
//! - [`response`]: the status codes API Gateway reads back.
//! - [`lambda`]: start-up for the three Lambda binaries (configuration, clients, runtime).
//!
//! Handlers decide and record; they never post to a socket. Every frame a client should
//! see, the auth reply and `pong` included, becomes an intent on the queue for the fanout
//! worker. That keeps each invocation cheap and constant-time whatever the audience.
//! [`Handlers::handle`] is the one entry point, shared by Lambda, the local server and
//! the tests, and it takes the event JSON exactly as Lambda delivers it.

mod connect;
mod disconnect;
pub mod event;
pub mod lambda;
mod message;
pub mod response;

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use serde_json::Value;
use switchboard::auth::Verifier;
use switchboard::clock::SharedClock;
use switchboard::config::SessionConfig;
use switchboard::metrics::Metrics;
use switchboard::queue::SharedQueue;
use switchboard::store::SharedStore;
use tracing::Instrument as _;

use event::{EventType, WsEvent};

/// The three route handlers over one store, queue and verifier.
///
/// Routing follows `requestContext.eventType`, not the route key, so one value serves
/// every route: the Lambda binaries each receive only their own events, while the local
/// server sends them all here.
pub struct Handlers {
    store: SharedStore,
    queue: SharedQueue,
    verifier: Arc<Verifier>,
    session: SessionConfig,
    clock: SharedClock,
    metrics: Metrics,
}

impl Handlers {
    /// Handlers over `store` and `queue`, verifying tokens with `verifier` and judging
    /// every deadline by `clock`. Metrics are on inside Lambda only ([`Metrics::from_env`]).
    pub fn new(
        store: SharedStore,
        queue: SharedQueue,
        verifier: Arc<Verifier>,
        session: SessionConfig,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            queue,
            verifier,
            session,
            clock,
            metrics: Metrics::from_env(),
        }
    }

    /// Replaces where metrics go, e.g. [`Metrics::disabled`] for a local server.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Handles one API Gateway WebSocket event, given as Lambda delivers it.
    ///
    /// Never fails: an event without a connection id gets a 400, an internal failure a
    /// 500 (which refuses a `$connect`), and everything a client did wrong is answered
    /// with an `error` frame while the handler returns 200 to keep the connection open.
    pub async fn handle(&self, event: Value) -> ApiGatewayProxyResponse {
        let event = match WsEvent::parse(event) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(error = %e, "unusable event");
                return response::bad_request();
            }
        };
        let span = tracing::info_span!(
            "invocation",
            connection_id = %event.connection_id,
            route_key = %event.route_key,
            user_id = tracing::field::Empty,
            tenant_id = tracing::field::Empty,
        );
        async {
            match event.event_type {
                EventType::Connect => self.connect(&event).await,
                EventType::Disconnect => self.disconnect(&event).await,
                EventType::Message => self.message(&event).await,
            }
        }
        .instrument(span)
        .await
    }

    fn idle_secs(&self) -> i64 {
        secs(self.session.idle_timeout)
    }
}

/// A duration as whole seconds for epoch arithmetic, saturating instead of wrapping.
fn secs(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// An error and its causes on one line, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    switchboard::queue::error_chain(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local server spawns `handle` on a multi-threaded runtime: it must stay `Send`.
    #[allow(dead_code)]
    fn handle_is_send(handlers: &Handlers) {
        fn send<T: Send>(_: T) {}
        send(handlers.handle(Value::Null));
    }

    #[test]
    fn handlers_are_shareable_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Handlers>();
    }
}
