//! The WebSocket handshake: `$connect` decides before the upgrade completes.
//!
//! The connection id is drawn and the `$connect` event built from the upgrade request; the
//! integration runs while the client waits for `101 Switching Protocols`. A non-2xx answer
//! refuses the handshake with that status, so nothing is ever routed for a connection that
//! `$connect` did not accept.
//!
//! The upgrade is done by hand rather than through axum's extractor so that the connection
//! task owns the raw stream: after an oversized frame it must discard the unread rest
//! itself, or the kernel answers the close with a reset and the client never reads 1009.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{self, ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use switchboard::limits::{MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::Instrument;

use super::close::CloseCause;
use super::connection::{self, Accepted};
use super::events::{self, ConnectionContext, Handshake, Request};
use super::gateway::Gateway;
use super::ids;
use super::invoke::{self, Outcome};
use super::registry::Handle;
use super::routes::CONNECT;

/// Read buffer per connection. Client messages are small and a connection's memory should
/// be too: tungstenite would otherwise allocate 128 KiB per connection up front.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Room for one maximal outbound message while the socket is not writable.
const MAX_WRITE_BUFFER_BYTES: usize = MAX_MESSAGE_BYTES + 16 * 1024;

/// Handles `GET /{stage}`: validates the upgrade request, runs `$connect`, and answers
/// `101 Switching Protocols` only if `$connect` accepted.
pub(crate) async fn accept(
    State(gateway): State<Arc<Gateway>>,
    mut request: extract::Request,
) -> Response {
    let key = match upgrade_key(request.headers()) {
        Ok(key) => key,
        Err(status) => return refuse(status, None),
    };
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return refuse(StatusCode::UPGRADE_REQUIRED, None);
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |info| info.0);
    let headers = request.headers();
    if !gateway.accepting() {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, None);
    }
    if !gateway.throttle.try_acquire() {
        tracing::info!("connect throttled");
        return refuse(StatusCode::TOO_MANY_REQUESTS, None);
    }

    let context = Arc::new(context(&gateway, headers, peer));
    let span = tracing::info_span!("connect", connection_id = %context.connection_id);
    let handshake = handshake(headers, request.uri(), peer);
    let protocol = match on_connect(&gateway, &context, &handshake)
        .instrument(span)
        .await
    {
        Ok(protocol) => protocol,
        Err((status, body)) => return refuse(status, body),
    };

    let (outbound_tx, outbound) = mpsc::channel(gateway.config.outbound_queue);
    let (close_tx, close) = oneshot::channel();
    let handle = Arc::new(Handle::new(Arc::clone(&context), outbound_tx, close_tx));
    gateway.registry.insert(Arc::clone(&handle));
    let accepted = Accepted {
        handle,
        outbound,
        close,
        shutdown: gateway.shutdown_signal(),
        opened: Instant::now(),
        guard: gateway.tasks.start(),
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                let socket =
                    WebSocketStream::from_raw_socket(io, Role::Server, Some(config())).await;
                connection::run(socket, accepted, gateway).await;
            }
            Err(error) => {
                tracing::info!(%error, connection_id = %context.connection_id, "upgrade failed");
                gateway.registry.remove(&context.connection_id);
                connection::disconnect(&gateway, &context, &CloseCause::Dropped).await;
            }
        }
    });
    switching_protocols(&key, protocol)
}

/// Socket settings: API Gateway's frame and message limits, and small buffers.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .max_message_size(Some(MAX_MESSAGE_BYTES))
}

/// The client's `Sec-WebSocket-Key`, once the request is a valid RFC 6455 upgrade.
fn upgrade_key(headers: &HeaderMap) -> Result<String, StatusCode> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .unwrap_or_default()
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    };
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return Err(StatusCode::UPGRADE_REQUIRED);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(StatusCode::BAD_REQUEST);
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|key| key.to_str().ok())
        .map(str::to_owned)
        .ok_or(StatusCode::BAD_REQUEST)
}

fn switching_protocols(key: &str, protocol: Option<String>) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            derive_accept_key(key.as_bytes()),
        );
    if let Some(protocol) = protocol {
        response = response.header(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    response
        .body(Body::empty())
        .unwrap_or_else(|_| refuse(StatusCode::INTERNAL_SERVER_ERROR, None))
}

/// Runs `$connect`, if there is such a route. `Ok` carries the subprotocol the
/// integration selected, if any; `Err` is the status and body refusing the handshake.
async fn on_connect(
    gateway: &Gateway,
    context: &ConnectionContext,
    handshake: &Handshake,
) -> Result<Option<String>, (StatusCode, Option<String>)> {
    let Some(integration) = gateway.routes.lifecycle(CONNECT) else {
        return Ok(None);
    };
    let request = Request::at(context.connected_at);
    let event = events::connect(context, &request, handshake);
    let timeout = gateway.config.integration_timeout;
    match invoke::invoke(&integration, event, timeout).await {
        Outcome::Answered(response) if response.is_success() => Ok(response
            .headers
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-protocol"))
            .map(|(_, value)| value)),
        Outcome::Answered(response) => {
            tracing::info!(status = response.status, "connect refused by integration");
            let status =
                StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Err((status, response.body))
        }
        Outcome::Failed(reason) => {
            tracing::error!(%reason, "connect integration failed");
            let body = invoke::error_frame(
                invoke::INTERNAL_SERVER_ERROR,
                &context.connection_id,
                &request.id,
            );
            Err((StatusCode::INTERNAL_SERVER_ERROR, Some(body)))
        }
        Outcome::TimedOut => {
            tracing::warn!("connect integration timed out");
            Err((StatusCode::GATEWAY_TIMEOUT, None))
        }
    }
}

/// A refused handshake: the status and, when there is one, the integration's body.
fn refuse(status: StatusCode, body: Option<String>) -> Response {
    let body = body.unwrap_or_else(|| {
        let phrase = status.canonical_reason().unwrap_or("Error");
        serde_json::json!({ "message": phrase }).to_string()
    });
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The fixed facts of a new connection, with an id no open connection has.
fn context(gateway: &Gateway, headers: &HeaderMap, peer: SocketAddr) -> ConnectionContext {
    let connection_id = loop {
        let id = ids::random_id();
        if !gateway.registry.contains(&id) {
            break id;
        }
    };
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    ConnectionContext {
        connection_id,
        connected_at: gateway.clock.now_millis(),
        source_ip: peer.ip().to_string(),
        user_agent: text(header::USER_AGENT),
        domain_name: text(header::HOST).unwrap_or_else(|| "localhost".into()),
        stage: gateway.config.stage.clone(),
        api_id: gateway.config.api_id.clone(),
    }
}

/// Headers and query as API Gateway forwards them: hop-by-hop headers dropped, names in
/// their usual capitalisation, and the `X-Forwarded-*` and trace headers added.
fn handshake(headers: &HeaderMap, uri: &Uri, peer: SocketAddr) -> Handshake {
    let mut pairs: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| *name != header::CONNECTION && *name != header::UPGRADE)
        .map(|(name, value)| (capitalise(name.as_str()), text(value)))
        .collect();
    let port = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map_or("80", |(_, port)| port)
        .to_owned();
    pairs.push(("X-Amzn-Trace-Id".into(), trace_id()));
    pairs.push(("X-Forwarded-For".into(), peer.ip().to_string()));
    pairs.push(("X-Forwarded-Port".into(), port));
    pairs.push(("X-Forwarded-Proto".into(), "http".into()));
    Handshake {
        headers: pairs,
        query: query(uri.query().unwrap_or_default()),
    }
}

/// `Sec-WebSocket-Key` from `sec-websocket-key`: HTTP/1 parsing lowercases names.
fn capitalise(name: &str) -> String {
    name.split('-')
        .map(|word| match word {
            "websocket" => "WebSocket".to_owned(),
            _ => {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// Query parameters, each name and value percent-decoded once.
fn query(raw: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// An `X-Amzn-Trace-Id` root: version 1, epoch seconds in hex, 96 random bits.
fn trace_id() -> String {
    let seconds = chrono::Utc::now().timestamp();
    let random: [u8; 12] = rand::random();
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("Root=1-{seconds:08x}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_capitalised_like_api_gateways() {
        assert_eq!(capitalise("sec-websocket-key"), "Sec-WebSocket-Key");
        assert_eq!(capitalise("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(capitalise("host"), "Host");
    }

    #[test]
    fn query_is_decoded_once_and_keeps_repeats() {
        let pairs = query("a=1&a=2&b=x%2520y&c");
        let expect = [("a", "1"), ("a", "2"), ("b", "x%20y"), ("c", "")];
        assert_eq!(pairs, expect.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }

    #[test]
    fn hop_by_hop_headers_are_dropped_and_forwarding_headers_added() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3001"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let handshake = handshake(&headers, &Uri::from_static("/dev"), peer);
        let names: Vec<&str> = handshake.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Host",
                "X-Amzn-Trace-Id",
                "X-Forwarded-For",
                "X-Forwarded-Port",
                "X-Forwarded-Proto"
            ]
        );
        assert_eq!(handshake.headers[3].1, "3001");
        assert!(handshake.query.is_empty());
    }
}
