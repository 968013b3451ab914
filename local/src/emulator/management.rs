//! The Management API (`@connections`) on the same port as the WebSocket endpoint.
//!
//! Errors use the restJson1 shape the AWS SDKs parse: the error name in the
//! `x-amzn-ErrorType` header and a JSON body with `message`, so the real
//! `aws-sdk-apigatewaymanagement` client surfaces `GoneException` and friends. Requests
//! signed with SigV4 are accepted without checking the signature. The connection id in the
//! path is percent-decoded exactly once, by the path extractor.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use switchboard::limits::MAX_MESSAGE_BYTES;

use super::close::CloseCause;
use super::gateway::Gateway;
use super::registry::{Outbound, PostError};

/// The header naming a restJson1 error.
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// `PostToConnection`: delivers the body to the client as one frame.
pub(crate) async fn post(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Bodies past the server's read limit are refused in the same shape as any other
    // body over the message limit; one that could not be read at all is a bad request.
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let message = format!("Message exceeds {MAX_MESSAGE_BYTES} bytes");
            return error(e.status(), "PayloadTooLargeException", &message);
        }
        Err(e) => return error(e.status(), "BadRequestException", &e.body_text()),
    };
    if body.len() > MAX_MESSAGE_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            &format!(
                "Message of {} bytes exceeds {MAX_MESSAGE_BYTES}",
                body.len()
            ),
        );
    }
    let Some(handle) = gateway.registry.get(&id) else {
        return gone(&id);
    };
    // API Gateway sends posted data as a text frame; bytes that are not UTF-8 cannot be
    // one, so they go as binary rather than being mangled.
    let frame = match String::from_utf8(body.to_vec()) {
        Ok(text) => Outbound::Text(text),
        Err(_) => Outbound::Binary(body),
    };
    match handle.post(frame) {
        Ok(()) => {
            handle.touch(gateway.clock.now_millis());
            tracing::debug!(connection_id = %id, "posted to connection");
            StatusCode::OK.into_response()
        }
        Err(PostError::Gone) => gone(&id),
        Err(PostError::Full) => error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "The client is not reading fast enough",
        ),
    }
}

/// `GetConnection`: when the connection opened, when it was last active, and who it is.
pub(crate) async fn get(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    let Some(handle) = gateway.registry.get(&id) else {
        return gone(&id);
    };
    let context = &handle.context;
    // The API reference capitalises the members (`ConnectedAt`), but on the wire they are
    // camelCase: that is what the SDKs' deserialisers read.
    let mut identity = serde_json::Map::new();
    identity.insert("sourceIp".into(), json!(context.source_ip));
    if let Some(agent) = &context.user_agent {
        identity.insert("userAgent".into(), json!(agent));
    }
    let body = json!({
        "connectedAt": iso8601(context.connected_at),
        "lastActiveAt": iso8601(handle.last_active()),
        "identity": identity,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `DeleteConnection`: closes the socket; the connection task then runs `$disconnect`.
pub(crate) async fn delete(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Response {
    let Some(handle) = gateway.registry.remove(&id) else {
        return gone(&id);
    };
    handle.close(CloseCause::Deleted);
    tracing::info!(connection_id = %id, "connection deleted");
    StatusCode::NO_CONTENT.into_response()
}

/// Any other path or method under the stage: API Gateway answers 403 for routes it lacks.
pub(crate) async fn forbidden() -> Response {
    error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden")
}

fn gone(id: &str) -> Response {
    tracing::debug!(connection_id = %id, "connection gone");
    error(StatusCode::GONE, "GoneException", "")
}

fn error(status: StatusCode, kind: &'static str, message: &str) -> Response {
    let body = json!({ "message": message }).to_string();
    let headers = [
        (ERROR_TYPE, kind),
        (header::CONTENT_TYPE, "application/json"),
    ];
    (status, headers, body).into_response()
}

/// ISO 8601 in UTC with milliseconds, the timestamp format of the Management API.
fn iso8601(epoch_millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(epoch_millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(1_645_556_857_902), "2022-02-22T19:07:37.902Z");
    }
}
