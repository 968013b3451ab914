//! Helpers shared by the local crate's end-to-end tests: real WebSocket clients over TCP.

#![allow(dead_code)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client socket.
pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest any single expectation waits; far above what a passing run needs.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Connects with a `User-Agent`, panicking if the handshake fails.
pub async fn connect(url: &str) -> Client {
    try_connect(url).await.expect("handshake")
}

/// Connects with a `User-Agent`, returning the handshake error if any.
pub async fn try_connect(url: &str) -> Result<Client, Error> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "User-Agent",
        HeaderValue::from_static("switchboard-tests/1"),
    );
    let (socket, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake in time")?;
    Ok(socket)
}

/// The HTTP status a refused handshake answered with.
pub async fn refused_status(url: &str) -> u16 {
    match try_connect(url).await {
        Err(Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, the handshake succeeded"),
    }
}

/// Sends a text frame.
pub async fn send(client: &mut Client, text: &str) {
    client.send(Message::text(text)).await.expect("send");
}

/// The next text frame, skipping control frames.
pub async fn next_text(client: &mut Client) -> String {
    loop {
        let message = tokio::time::timeout(PATIENCE, client.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("frame");
        match message {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// The next text frame, parsed as JSON.
pub async fn next_json(client: &mut Client) -> serde_json::Value {
    let text = next_text(client).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}

/// Reads until the server's close frame and returns its code; text frames before it are
/// skipped.
pub async fn close_code(client: &mut Client) -> u16 {
    loop {
        let next = tokio::time::timeout(PATIENCE, client.next())
            .await
            .expect("close in time");
        match next {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) => return 1005,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("socket failed before the close frame: {e}"),
            None => panic!("socket ended without a close frame"),
        }
    }
}

/// Asserts that nothing arrives for `quiet`.
pub async fn assert_silent(client: &mut Client, quiet: Duration) {
    if let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, client.next()).await {
        panic!("expected silence, got {message:?}");
    }
}

/// Closes the socket with a normal close frame.
pub async fn close(client: &mut Client) {
    let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    let _ = client.close(Some(frame)).await;
    while let Ok(Some(Ok(_))) = tokio::time::timeout(PATIENCE, client.next()).await {}
}

/// A token for `user` (optionally granting `tenant`) signed with the development secret,
/// valid for ten minutes: what `switchboard token` prints.
pub fn dev_token(user: &str, tenant: Option<&str>) -> String {
    use switchboard_local::token::{self, TokenRequest};

    let request = TokenRequest {
        user: user.into(),
        tenant: tenant.map(str::to_owned),
        email: None,
        ttl: Duration::from_secs(600),
        tenant_claim: "tenant_id".into(),
        issuer: None,
        audience: None,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let now = i64::try_from(now).expect("seconds fit");
    token::mint(&request, switchboard_local::dev::DEV_SECRET.as_bytes(), now).expect("mint")
}
