//! One accepted connection, from the completed upgrade to `$disconnect`.
//!
//! A single task per connection reads client frames, writes queued outbound frames and
//! watches the timers, so an idle connection costs one small future, a 4 KiB read buffer
//! and an empty bounded queue. Integrations run in their own short-lived tasks, so a slow
//! handler never stops the connection from reading, writing or closing on time; like API
//! Gateway, several messages of one connection may be handled at once.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::Instrument;

use super::close::CloseCause;
use super::events::{self, ConnectionContext, Request};
use super::gateway::Gateway;
use super::ids;
use super::invoke::{self, Outcome};
use super::registry::{Handle, Outbound};
use super::routes::DISCONNECT;
use super::tracker::Guard;

/// The server side of an upgraded connection.
pub(crate) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Once the WebSocket layer has given up on the input, the rest is read and discarded
/// until the client has been quiet this long.
const QUIET: Duration = Duration::from_millis(200);

/// Everything a connection task owns, set up before the upgrade completes so that posts
/// made right after `$connect` are queued rather than lost.
pub(crate) struct Accepted {
    pub handle: Arc<Handle>,
    pub outbound: mpsc::Receiver<Outbound>,
    pub close: oneshot::Receiver<CloseCause>,
    pub shutdown: watch::Receiver<bool>,
    pub opened: Instant,
    pub guard: Guard,
}

/// Serves the connection until it ends, then runs `$disconnect`.
pub(crate) async fn run(mut socket: Socket, accepted: Accepted, gateway: Arc<Gateway>) {
    let context = Arc::clone(&accepted.handle.context);
    let span = tracing::info_span!("connection", connection_id = %context.connection_id);
    async move {
        let Accepted {
            handle,
            mut outbound,
            mut close,
            mut shutdown,
            opened,
            guard: _guard,
        } = accepted;
        let mut state = Serving {
            socket: &mut socket,
            gateway: &gateway,
            handle: &handle,
        };
        let cause = state
            .serve(&mut outbound, &mut close, &mut shutdown, opened)
            .await;
        gateway.registry.remove(&context.connection_id);
        tracing::info!(cause = cause.as_str(), "connection closing");
        finish(&mut socket, &cause, &gateway).await;
        drop(socket);
        disconnect(&gateway, &context, &cause).await;
    }
    .instrument(span)
    .await;
}

/// Runs `$disconnect` for a connection that never reached the serving loop.
pub(crate) async fn disconnect(gateway: &Gateway, context: &ConnectionContext, cause: &CloseCause) {
    let Some(integration) = gateway.routes.lifecycle(DISCONNECT) else {
        return;
    };
    let (code, reason) = cause.disconnect_status();
    let request = Request::at(gateway.clock.now_millis());
    let event = events::disconnect(context, &request, code, &reason);
    let timeout = gateway.config.integration_timeout;
    match invoke::invoke(&integration, event, timeout).await {
        Outcome::Answered(response) => {
            tracing::debug!(status = response.status, "disconnect handled");
        }
        Outcome::Failed(reason) => tracing::error!(%reason, "disconnect integration failed"),
        Outcome::TimedOut => tracing::warn!("disconnect integration timed out"),
    }
}

struct Serving<'a> {
    socket: &'a mut Socket,
    gateway: &'a Arc<Gateway>,
    handle: &'a Arc<Handle>,
}

impl Serving<'_> {
    async fn serve(
        &mut self,
        outbound: &mut mpsc::Receiver<Outbound>,
        close: &mut oneshot::Receiver<CloseCause>,
        shutdown: &mut watch::Receiver<bool>,
        opened: Instant,
    ) -> CloseCause {
        let config = &self.gateway.config;
        let idle = tokio::time::sleep(config.idle_timeout);
        let lifetime = tokio::time::sleep_until(opened + config.max_duration);
        tokio::pin!(idle, lifetime);
        if *shutdown.borrow_and_update() {
            return CloseCause::Shutdown;
        }
        loop {
            tokio::select! {
                biased;
                cause = ended(close, shutdown, lifetime.as_mut(), idle.as_mut()) => return cause,
                Some(frame) = outbound.recv() => {
                    let message = match frame {
                        Outbound::Text(text) => Message::Text(text.into()),
                        Outbound::Binary(data) => Message::Binary(data),
                    };
                    let stop = ended(close, shutdown, lifetime.as_mut(), idle.as_mut());
                    if let Err(cause) = self.send(message, stop).await {
                        return cause;
                    }
                }
                incoming = self.socket.next() => match incoming {
                    None => return CloseCause::Dropped,
                    Some(Err(error)) => return classify(&error),
                    Some(Ok(Message::Text(text))) => {
                        idle.as_mut().reset(Instant::now() + config.idle_timeout);
                        self.handle.touch(self.gateway.clock.now_millis());
                        if let Some(reply) = self.dispatch(text.as_str()) {
                            let stop = ended(close, shutdown, lifetime.as_mut(), idle.as_mut());
                            if let Err(cause) = self.send(Message::Text(reply.into()), stop).await
                            {
                                return cause;
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => return CloseCause::Binary,
                    Some(Ok(Message::Close(frame))) => {
                        return CloseCause::ClientClosed {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                        };
                    }
                    // Pongs are answered by the WebSocket layer; control frames are not
                    // messages and do not count as activity.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                },
            }
        }
    }

    /// Writes one frame, unless `stop` ends the connection first: a client that stops
    /// reading fills its TCP window, and must not keep its connection from closing on a
    /// `DELETE`, a timer or shutdown.
    async fn send(
        &mut self,
        message: Message,
        stop: impl Future<Output = CloseCause>,
    ) -> Result<(), CloseCause> {
        tokio::select! {
            biased;
            cause = stop => Err(cause),
            sent = self.socket.send(message) => sent.map_err(|_| CloseCause::Dropped),
        }
    }

    /// Routes one text message. Returns a frame to send at once when API Gateway would
    /// answer without invoking anything (throttled, no route).
    fn dispatch(&self, body: &str) -> Option<String> {
        let gateway = self.gateway;
        let context = &self.handle.context;
        let request = Request::at(gateway.clock.now_millis());
        if !gateway.throttle.try_acquire() {
            tracing::info!(request_id = %request.id, "message throttled");
            return Some(invoke::error_frame(
                invoke::TOO_MANY_REQUESTS,
                &context.connection_id,
                &request.id,
            ));
        }
        let Some(selected) = gateway.routes.select(body) else {
            tracing::info!(request_id = %request.id, "message matched no route");
            return Some(invoke::error_frame(
                invoke::FORBIDDEN,
                &context.connection_id,
                &request.id,
            ));
        };

        let message_id = ids::random_id();
        let event = events::message(context, &request, &selected.route_key, &message_id, body);
        let span = tracing::info_span!(
            "message",
            route_key = %selected.route_key,
            message_id = %message_id,
            request_id = %request.id,
        );
        let handle = Arc::clone(self.handle);
        let timeout = gateway.config.integration_timeout;
        let guard = gateway.tasks.start();
        tokio::spawn(
            async move {
                let _guard = guard;
                let phrase = match invoke::invoke(&selected.integration, event, timeout).await {
                    Outcome::Answered(response) => {
                        tracing::debug!(status = response.status, "message handled");
                        return;
                    }
                    Outcome::Failed(reason) => {
                        tracing::error!(%reason, "message integration failed");
                        invoke::INTERNAL_SERVER_ERROR
                    }
                    Outcome::TimedOut => {
                        tracing::warn!("message integration timed out");
                        invoke::TIMED_OUT
                    }
                };
                let id = &handle.context.connection_id;
                let frame = invoke::error_frame(phrase, id, &request.id);
                // A closed connection or a full queue loses the error frame, as it would
                // lose any other frame.
                let _ = handle.post(Outbound::Text(frame));
            }
            .instrument(span),
        );
        None
    }
}

/// Resolves when the connection must end for a reason other than its socket: a `DELETE`,
/// shutdown, its maximum duration or its idle timeout.
async fn ended(
    close: &mut oneshot::Receiver<CloseCause>,
    shutdown: &mut watch::Receiver<bool>,
    lifetime: Pin<&mut Sleep>,
    idle: Pin<&mut Sleep>,
) -> CloseCause {
    tokio::select! {
        biased;
        cause = close => cause.unwrap_or(CloseCause::Shutdown),
        _ = shutdown.changed() => CloseCause::Shutdown,
        () = lifetime => CloseCause::MaxDuration,
        () = idle => CloseCause::IdleTimeout,
    }
}

/// Ends the close handshake so the client reads the close code before the TCP connection
/// goes away: our reply to a client's close is flushed; our own close frame is sent and
/// the client's answer awaited. Dropping a socket with unread input would make the kernel
/// reset the connection, losing the close frame, so input is read to the end first.
async fn finish(socket: &mut Socket, cause: &CloseCause, gateway: &Gateway) {
    let grace = gateway.config.close_grace;
    if matches!(cause, CloseCause::ClientClosed { .. }) {
        let _ = tokio::time::timeout(grace, socket.flush()).await;
        return;
    }
    let Some((code, reason)) = cause.close_frame() else {
        return;
    };
    let frame = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    let sent = tokio::time::timeout(grace, socket.send(Message::Close(Some(frame)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        return;
    }
    if matches!(
        cause,
        CloseCause::TooBig | CloseCause::ProtocolError | CloseCause::InvalidText
    ) {
        // After a capacity or protocol error the input cannot be read as frames any more,
        // so read raw bytes.
        discard(socket.get_mut(), grace).await;
    } else {
        let drain = async { while let Some(Ok(_)) = socket.next().await {} };
        let _ = tokio::time::timeout(grace, drain).await;
    }
}

/// Reads and drops input until the client has been quiet for [`QUIET`] or `grace` ends.
async fn discard(io: &mut TokioIo<Upgraded>, grace: Duration) {
    let deadline = Instant::now() + grace;
    let mut buffer = [0u8; 1024];
    loop {
        let until = deadline.min(Instant::now() + QUIET);
        match tokio::time::timeout_at(until, io.read(&mut buffer)).await {
            Ok(Ok(read)) if read > 0 => {}
            _ => return,
        }
    }
}

/// What a failed read means: frames and messages over the configured limits surface as
/// capacity errors; a client that breaks the protocol is told so (1002, or 1007 for text
/// that is not UTF-8) rather than dropped without a close frame.
fn classify(error: &tungstenite::Error) -> CloseCause {
    use tungstenite::error::ProtocolError;

    match error {
        tungstenite::Error::Capacity(e) => {
            tracing::info!(error = %e, "client exceeded a size limit");
            CloseCause::TooBig
        }
        tungstenite::Error::Utf8(_) => {
            tracing::info!(%error, "client sent text that is not UTF-8");
            CloseCause::InvalidText
        }
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            CloseCause::Dropped
        }
        tungstenite::Error::Protocol(e) => {
            tracing::info!(error = %e, "client broke the WebSocket protocol");
            CloseCause::ProtocolError
        }
        _ => {
            tracing::debug!(%error, "websocket read failed");
            CloseCause::Dropped
        }
    }
}
