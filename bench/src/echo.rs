//! A plain WebSocket echo server (child process): the least a WebSocket server on this
//! machine can do per connection and per message, the baseline for latency, handshake
//! rate and memory per connection.

use std::sync::Arc;

use futures::{SinkExt as _, StreamExt as _};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::BenchError;
use crate::child::{self, Child};

/// Read buffer per connection: the emulator's, so memory compares like with like.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// The parent's handle on an echo child.
pub struct Echo {
    child: Child,
}

impl Echo {
    /// Starts an echo child on a free loopback port.
    pub async fn start() -> Result<Self, BenchError> {
        Ok(Self {
            child: Child::spawn("echo", &[]).await?,
        })
    }

    /// `ws://127.0.0.1:{port}/`.
    pub fn url(&self) -> &str {
        self.child.address()
    }

    /// The child process, for its memory.
    pub fn child(&self) -> &Child {
        &self.child
    }

    /// Stops the child.
    pub async fn stop(self) {
        self.child.stop().await;
    }
}

/// The child side: echoes every text and binary frame until stdin closes.
pub async fn run_child() -> Result<(), BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(BenchError::io("binding the echo server"))?;
    let addr = listener
        .local_addr()
        .map_err(BenchError::io("echo address"))?;
    let config = Arc::new(
        WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(0),
    );
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let config = Arc::clone(&config);
            tokio::spawn(async move {
                let accepted =
                    tokio_tungstenite::accept_async_with_config(stream, Some(*config)).await;
                let Ok(mut socket) = accepted else { return };
                while let Some(Ok(message)) = socket.next().await {
                    let echo = matches!(message, Message::Text(_) | Message::Binary(_));
                    if echo && socket.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let result = child::serve(&format!("ws://{addr}/"), |command| async move {
        format!("unknown command {command:?}")
    })
    .await;
    server.abort();
    result
}
