//! API Gateway WebSocket events, reduced to what the handlers read.
//!
//! Every event goes through [`WsEvent::parse`]: first `aws_lambda_events`' typed request,
//! then, when that rejects an odd shape (it insists on `connectedAt` and
//! `requestTimeEpoch`), a minimal extraction of the few fields we need. So a shape AWS
//! adds tomorrow, or an emulator that leaves fields out, costs a warning, not an outage.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde::Deserialize as _;
use serde_json::Value;

/// What kind of event API Gateway delivered, from `requestContext.eventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `$connect`: a client is opening a connection.
    Connect,
    /// `$disconnect`: the connection is gone (best effort; may never arrive).
    Disconnect,
    /// A message frame, whatever route (`$default` or a custom one) it matched.
    Message,
}

/// The fields of a WebSocket event the handlers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsEvent {
    /// API Gateway's connection id.
    pub connection_id: String,
    /// What happened.
    pub event_type: EventType,
    /// The matched route, for logs only; routing goes by `event_type`.
    pub route_key: String,
    /// The frame's text for messages; `None` on connect and disconnect.
    pub body: Option<String>,
    /// Whether API Gateway base64-encoded the body (binary frames, which it refuses).
    pub is_base64_encoded: bool,
    /// Epoch milliseconds at which the connection was accepted, when the event says.
    pub connected_at: Option<i64>,
}

/// Why an event cannot be handled at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// No `requestContext.connectionId`: there is no connection to act for.
    #[error("event has no requestContext.connectionId")]
    MissingConnectionId,
    /// Neither `eventType` nor `routeKey` says what kind of event this is.
    #[error("event type {0:?} is not CONNECT, DISCONNECT or MESSAGE")]
    UnknownEventType(String),
}

impl WsEvent {
    /// Reads an event as Lambda delivers it. Never panics, whatever the JSON.
    pub fn parse(event: Value) -> Result<Self, EventError> {
        // Read from a borrow: the event, body of up to 128 KB included, is not copied.
        match ApiGatewayWebsocketProxyRequest::deserialize(&event) {
            Ok(request) => Self::from_typed(request),
            Err(e) => {
                tracing::warn!(error = %e, "odd event shape; reading it loosely");
                Self::from_value(&event)
            }
        }
    }

    fn from_typed(request: ApiGatewayWebsocketProxyRequest) -> Result<Self, EventError> {
        let context = request.request_context;
        let connection_id = context
            .connection_id
            .filter(|id| !id.is_empty())
            .ok_or(EventError::MissingConnectionId)?;
        let route_key = context.route_key.unwrap_or_default();
        let event_type = event_type(context.event_type.as_deref(), &route_key)?;
        Ok(Self {
            connection_id,
            event_type,
            route_key,
            body: request.body,
            is_base64_encoded: request.is_base64_encoded,
            // The typed request makes this field mandatory, so zero means "left out".
            connected_at: Some(context.connected_at).filter(|&at| at > 0),
        })
    }

    /// The minimal extraction for shapes the typed request refuses.
    fn from_value(event: &Value) -> Result<Self, EventError> {
        let context = event.get("requestContext");
        let text = |key: &str| {
            context
                .and_then(|c| c.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let connection_id = text("connectionId")
            .filter(|id| !id.is_empty())
            .ok_or(EventError::MissingConnectionId)?;
        let route_key = text("routeKey").unwrap_or_default();
        let event_type = event_type(text("eventType").as_deref(), &route_key)?;
        Ok(Self {
            connection_id,
            event_type,
            route_key,
            body: event.get("body").and_then(Value::as_str).map(str::to_owned),
            is_base64_encoded: event
                .get("isBase64Encoded")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            connected_at: context
                .and_then(|c| c.get("connectedAt"))
                .and_then(Value::as_i64)
                .filter(|&at| at > 0),
        })
    }
}

/// The event type from `eventType`, or from the route key when `eventType` is absent.
fn event_type(event_type: Option<&str>, route_key: &str) -> Result<EventType, EventError> {
    match (event_type, route_key) {
        (Some("CONNECT"), _) => Ok(EventType::Connect),
        (Some("DISCONNECT"), _) => Ok(EventType::Disconnect),
        (Some("MESSAGE"), _) => Ok(EventType::Message),
        (Some(other), _) => Err(EventError::UnknownEventType(other.to_owned())),
        (None, "$connect") => Ok(EventType::Connect),
        (None, "$disconnect") => Ok(EventType::Disconnect),
        (None, "") => Err(EventError::UnknownEventType(String::new())),
        (None, _) => Ok(EventType::Message),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context(extra: Value) -> Value {
        let mut c = json!({
            "routeKey": "$default", "eventType": "MESSAGE", "connectionId": "c1",
            "connectedAt": 1_700_000_000_000_i64, "requestTimeEpoch": 1_700_000_000_100_i64,
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    #[test]
    fn typed_path_reads_every_field() {
        let event = json!({"requestContext": context(json!({})), "body": "{}"});
        let parsed = WsEvent::parse(event).unwrap();
        assert_eq!(
            parsed,
            WsEvent {
                connection_id: "c1".into(),
                event_type: EventType::Message,
                route_key: "$default".into(),
                body: Some("{}".into()),
                is_base64_encoded: false,
                connected_at: Some(1_700_000_000_000),
            }
        );
    }

    #[test]
    fn loose_path_reads_events_without_timestamps() {
        let c = context(json!({"connectedAt": null, "requestTimeEpoch": null}));
        let parsed = WsEvent::parse(json!({"requestContext": c, "body": "x"})).unwrap();
        assert_eq!(parsed.connection_id, "c1");
        assert_eq!(parsed.body.as_deref(), Some("x"));
        assert_eq!(parsed.connected_at, None);
    }

    #[test]
    fn route_key_stands_in_for_a_missing_event_type() {
        let c = context(json!({"eventType": null, "routeKey": "$connect"}));
        let parsed = WsEvent::parse(json!({ "requestContext": c })).unwrap();
        assert_eq!(parsed.event_type, EventType::Connect);
        let c = context(json!({"eventType": null, "routeKey": "chat"}));
        let parsed = WsEvent::parse(json!({ "requestContext": c })).unwrap();
        assert_eq!(parsed.event_type, EventType::Message);
    }

    #[test]
    fn event_type_wins_over_route_key() {
        let c = context(json!({"eventType": "DISCONNECT", "routeKey": "$default"}));
        let parsed = WsEvent::parse(json!({ "requestContext": c })).unwrap();
        assert_eq!(parsed.event_type, EventType::Disconnect);
    }

    #[test]
    fn events_without_a_connection_are_refused() {
        for event in [
            json!({}),
            json!(null),
            json!("text"),
            json!({"requestContext": context(json!({"connectionId": null}))}),
            json!({"requestContext": context(json!({"connectionId": ""}))}),
            json!({"requestContext": {"connectionId": 7}}),
        ] {
            assert_eq!(
                WsEvent::parse(event.clone()),
                Err(EventError::MissingConnectionId),
                "{event}"
            );
        }
    }

    #[test]
    fn unknown_event_type_is_refused() {
        let c = context(json!({"eventType": "UPGRADE"}));
        assert_eq!(
            WsEvent::parse(json!({ "requestContext": c })),
            Err(EventError::UnknownEventType("UPGRADE".into()))
        );
    }
}
