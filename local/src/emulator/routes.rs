//! Route selection, as API Gateway does it for a WebSocket API.
//!
//! `$connect` and `$disconnect` are chosen by what happened to the connection, never by the
//! selection expression. A message is parsed as JSON; if it is an object whose selection
//! field (`action` for `$request.body.action`) is a string naming a route, that route is
//! taken, otherwise `$default`. Without a `$default` route the message is not routed and
//! the client is told so.

use std::collections::HashMap;

use serde_json::Value;

use super::integration::SharedIntegration;

/// Route key of the connect route.
pub const CONNECT: &str = "$connect";
/// Route key of the disconnect route.
pub const DISCONNECT: &str = "$disconnect";
/// Route key taken when no other route matches.
pub const DEFAULT: &str = "$default";

/// Route keys and their integrations.
#[derive(Clone)]
pub struct RouteTable {
    selection_field: String,
    routes: HashMap<String, SharedIntegration>,
}

/// Where a message goes.
#[derive(Clone)]
pub struct Selected {
    /// The route key, as it appears in `requestContext.routeKey`.
    pub route_key: String,
    /// The integration to invoke.
    pub integration: SharedIntegration,
}

impl RouteTable {
    /// An empty table selecting on `$request.body.{selection_field}`.
    pub fn new(selection_field: impl Into<String>) -> Self {
        Self {
            selection_field: selection_field.into(),
            routes: HashMap::new(),
        }
    }

    /// Adds or replaces the route `key`.
    pub fn route(mut self, key: impl Into<String>, integration: SharedIntegration) -> Self {
        self.routes.insert(key.into(), integration);
        self
    }

    /// The `$connect` or `$disconnect` integration, when configured. API Gateway accepts
    /// every connection when there is no `$connect` route.
    pub fn lifecycle(&self, key: &str) -> Option<SharedIntegration> {
        self.routes.get(key).cloned()
    }

    /// The route for a text message, or `None` when nothing matches and there is no
    /// `$default` route.
    pub fn select(&self, body: &str) -> Option<Selected> {
        let named = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get(&self.selection_field)?.as_str().map(str::to_owned))
            .filter(|key| !key.starts_with('$'))
            .and_then(|key| Some((self.routes.get(&key)?.clone(), key)));
        let (integration, route_key) = match named {
            Some(found) => found,
            None => (self.routes.get(DEFAULT)?.clone(), DEFAULT.to_owned()),
        };
        Some(Selected {
            route_key,
            integration,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;
    use crate::emulator::integration::{Integration, IntegrationError, IntegrationResponse};

    struct Nothing;

    #[async_trait]
    impl Integration for Nothing {
        async fn invoke(&self, _: Value) -> Result<IntegrationResponse, IntegrationError> {
            Ok(IntegrationResponse::status(200))
        }
    }

    fn table() -> RouteTable {
        RouteTable::new("action")
            .route(DEFAULT, Arc::new(Nothing))
            .route("chat", Arc::new(Nothing))
            .route(CONNECT, Arc::new(Nothing))
    }

    fn key(table: &RouteTable, body: &str) -> Option<String> {
        table.select(body).map(|s| s.route_key)
    }

    #[test]
    fn action_naming_a_route_selects_it() {
        assert_eq!(key(&table(), r#"{"action":"chat","x":1}"#).unwrap(), "chat");
    }

    #[test]
    fn unknown_action_or_non_json_falls_back_to_default() {
        let table = table();
        assert_eq!(key(&table, r#"{"action":"ping"}"#).unwrap(), DEFAULT);
        assert_eq!(key(&table, "hello").unwrap(), DEFAULT);
        assert_eq!(key(&table, r#"{"action":7}"#).unwrap(), DEFAULT);
        assert_eq!(key(&table, r#"["chat"]"#).unwrap(), DEFAULT);
    }

    #[test]
    fn lifecycle_routes_are_never_selected_by_body() {
        assert_eq!(key(&table(), r#"{"action":"$connect"}"#).unwrap(), DEFAULT);
    }

    #[test]
    fn without_default_an_unmatched_message_has_no_route() {
        let table = RouteTable::new("action").route("chat", Arc::new(Nothing));
        assert!(table.select("{}").is_none());
        assert_eq!(key(&table, r#"{"action":"chat"}"#).unwrap(), "chat");
    }
}
