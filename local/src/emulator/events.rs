//! Lambda events in API Gateway's WebSocket shapes.
//!
//! The shapes follow real captures (see `tests/fixtures/events/`): connect and disconnect
//! events carry `headers` and `multiValueHeaders` but no `body`; message events carry a
//! `body` string and no headers at all; `messageId` exists only on messages and
//! `disconnectStatusCode`/`disconnectReason` only on disconnects; `connectedAt` is the same
//! in every event of a connection; `isBase64Encoded` is always false because binary frames
//! never reach an integration.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::ids;
use super::routes::{CONNECT, DISCONNECT};

/// What stays the same in every event of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionContext {
    /// The connection id.
    pub connection_id: String,
    /// Epoch milliseconds at which the connection was accepted.
    pub connected_at: i64,
    /// The client's address, as API Gateway reports it in `identity.sourceIp`.
    pub source_ip: String,
    /// The client's `User-Agent`, if it sent one.
    pub user_agent: Option<String>,
    /// The `Host` the client connected to.
    pub domain_name: String,
    /// The stage name.
    pub stage: String,
    /// The emulated API's id.
    pub api_id: String,
}

/// One invocation's own identity: when it happened and its request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Epoch milliseconds of the request.
    pub time: i64,
    /// `requestId`, also used as `extendedRequestId`.
    pub id: String,
}

/// The handshake request as the client sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handshake {
    /// Header names and values in arrival order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// Query parameters, percent-decoded, in arrival order; a name may repeat.
    pub query: Vec<(String, String)>,
}

impl Request {
    /// A request at `time` with a fresh id.
    pub fn at(time: i64) -> Self {
        Self {
            time,
            id: ids::random_id(),
        }
    }
}

/// The `$connect` event.
pub fn connect(context: &ConnectionContext, request: &Request, handshake: &Handshake) -> Value {
    let mut event = Map::new();
    let (single, multi) = header_maps(&handshake.headers);
    event.insert("headers".into(), single);
    event.insert("multiValueHeaders".into(), multi);
    if !handshake.query.is_empty() {
        let (single, multi) = header_maps(&handshake.query);
        event.insert("queryStringParameters".into(), single);
        event.insert("multiValueQueryStringParameters".into(), multi);
    }
    let request_context = request_context(context, request, CONNECT, "CONNECT");
    event.insert("requestContext".into(), Value::Object(request_context));
    event.insert("isBase64Encoded".into(), Value::Bool(false));
    Value::Object(event)
}

/// A message event for `route_key`, carrying the frame's text verbatim.
pub fn message(
    context: &ConnectionContext,
    request: &Request,
    route_key: &str,
    message_id: &str,
    body: &str,
) -> Value {
    let mut request_context = request_context(context, request, route_key, "MESSAGE");
    request_context.insert("messageId".into(), Value::String(message_id.to_owned()));
    json!({
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": false,
    })
}

/// The `$disconnect` event, with the close code and reason as API Gateway reports them.
pub fn disconnect(
    context: &ConnectionContext,
    request: &Request,
    status_code: u16,
    reason: &str,
) -> Value {
    let mut request_context = request_context(context, request, DISCONNECT, "DISCONNECT");
    request_context.insert("disconnectStatusCode".into(), json!(status_code));
    request_context.insert("disconnectReason".into(), json!(reason));
    // API Gateway sends these four headers on every disconnect, most of them empty.
    let headers = [
        ("Host", context.domain_name.as_str()),
        ("x-api-key", ""),
        ("X-Forwarded-For", ""),
        ("x-restapi", ""),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let (single, multi) = header_maps(&headers);
    json!({
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": request_context,
        "isBase64Encoded": false,
    })
}

/// `requestTime` as API Gateway writes it: `22/Feb/2022:19:07:37 +0000`.
pub fn request_time(epoch_millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(epoch_millis)
        .unwrap_or_default()
        .format("%d/%b/%Y:%H:%M:%S %z")
        .to_string()
}

fn request_context(
    context: &ConnectionContext,
    request: &Request,
    route_key: &str,
    event_type: &str,
) -> Map<String, Value> {
    let mut identity = Map::new();
    if let Some(agent) = &context.user_agent {
        identity.insert("userAgent".into(), json!(agent));
    }
    identity.insert("sourceIp".into(), json!(context.source_ip));
    let value = json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request.id,
        "requestTime": request_time(request.time),
        "messageDirection": "IN",
        "stage": context.stage,
        "connectedAt": context.connected_at,
        "requestTimeEpoch": request.time,
        "identity": identity,
        "requestId": request.id,
        "domainName": context.domain_name,
        "connectionId": context.connection_id,
        "apiId": context.api_id,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

/// `headers` (last value wins) and `multiValueHeaders` (every value) from ordered pairs.
fn header_maps(pairs: &[(String, String)]) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        single.insert(name.clone(), json!(value));
        match multi.get_mut(name) {
            Some(Value::Array(values)) => values.push(json!(value)),
            _ => {
                multi.insert(name.clone(), json!([value]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_matches_api_gateway_format() {
        assert_eq!(
            request_time(1_645_556_857_902),
            "22/Feb/2022:19:07:37 +0000"
        );
    }

    #[test]
    fn repeated_headers_keep_every_value_and_the_last_wins() {
        let pairs = [("a", "1"), ("a", "2"), ("b", "3")].map(|(k, v)| (k.into(), v.into()));
        let (single, multi) = header_maps(&pairs);
        assert_eq!(single, json!({"a": "2", "b": "3"}));
        assert_eq!(multi, json!({"a": ["1", "2"], "b": ["3"]}));
    }
}
