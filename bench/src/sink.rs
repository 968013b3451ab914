//! A counting Management API sink: answers every `POST /{stage}/@connections/{id}` with
//! 200 and counts posts per connection id, so delivery ratio and duplicates can be read.
//!
//! It is a bare hyper HTTP/1 server rather than an emulator, so that the posting side
//! (our worker, or the raw loop baseline) is what limits the rate. It runs as a child
//! process ([`crate::child`]); the time of the last post is wall-clock nanoseconds, which
//! the parent compares with its own wall clock.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::{BodyExt as _, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::BenchError;
use crate::child::{self, Child};

/// What the sink has seen since its last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkStats {
    /// Posts answered.
    pub posts: u64,
    /// Distinct connection ids posted to.
    pub distinct: u64,
    /// Posts beyond the first to the same connection id.
    pub duplicates: u64,
    /// Wall-clock nanoseconds since the Unix epoch of the latest post; 0 before any.
    pub last_ns: u64,
}

/// The parent's handle on a sink child.
pub struct Sink {
    child: Child,
    addr: SocketAddr,
}

#[derive(Default)]
struct Counts {
    per_id: Mutex<HashMap<String, u32>>,
    posts: AtomicU64,
    last_ns: AtomicU64,
}

impl Sink {
    /// Starts a sink child on a free loopback port.
    pub async fn start() -> Result<Self, BenchError> {
        let child = Child::spawn("sink", &[]).await?;
        let addr = child.address().parse().map_err(|e| BenchError::Child {
            mode: "sink".into(),
            problem: format!("bad address {:?}: {e}", child.address()),
        })?;
        Ok(Self { child, addr })
    }

    /// The address the sink listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Management API base for `stage`, as `WEBSOCKET_ENDPOINT` is written.
    pub fn endpoint(&self, stage: &str) -> String {
        format!("http://{}/{stage}", self.addr)
    }

    /// The child process, for its CPU time.
    pub fn child(&self) -> &Child {
        &self.child
    }

    /// Counts since the last reset.
    pub async fn stats(&mut self) -> Result<SinkStats, BenchError> {
        let line = self.child.ask("stats").await?;
        serde_json::from_str(&line).map_err(|e| BenchError::Child {
            mode: "sink".into(),
            problem: format!("stats {line:?}: {e}"),
        })
    }

    /// Forgets every count.
    pub async fn reset(&mut self) -> Result<(), BenchError> {
        self.child.ask("reset").await.map(drop)
    }

    /// Polls until `posts` have arrived, for at most `patience`; returns the last stats.
    pub async fn wait_for(
        &mut self,
        posts: u64,
        patience: std::time::Duration,
    ) -> Result<SinkStats, BenchError> {
        let give_up = tokio::time::Instant::now() + patience;
        loop {
            let stats = self.stats().await?;
            if stats.posts >= posts || tokio::time::Instant::now() >= give_up {
                return Ok(stats);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Stops the child.
    pub async fn stop(self) {
        self.child.stop().await;
    }
}

/// The child side: serves until stdin closes.
pub async fn run_child() -> Result<(), BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(BenchError::io("binding the sink"))?;
    let addr = listener
        .local_addr()
        .map_err(BenchError::io("sink address"))?;
    let counts = Arc::new(Counts::default());
    let server = tokio::spawn(accept(listener, Arc::clone(&counts)));
    let result = child::serve(&addr.to_string(), |command| {
        let counts = Arc::clone(&counts);
        async move {
            match command.trim() {
                "stats" => serde_json::to_string(&counts.stats()).unwrap_or_default(),
                "reset" => {
                    counts.reset();
                    "ok".into()
                }
                other => format!("unknown command {other:?}"),
            }
        }
    })
    .await;
    server.abort();
    result
}

async fn accept(listener: TcpListener, counts: Arc<Counts>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let counts = Arc::clone(&counts);
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, Arc::clone(&counts)));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    counts: Arc<Counts>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let id = request
        .uri()
        .path()
        .split_once("/@connections/")
        .map(|(_, id)| id.to_owned());
    // Read the body to its end so the connection can carry the next request.
    let _ = request.into_body().collect().await;
    let status = match id {
        Some(id) if !id.is_empty() => {
            counts.record(id);
            StatusCode::OK
        }
        _ => StatusCode::FORBIDDEN,
    };
    let mut response = Response::new(Empty::new());
    *response.status_mut() = status;
    Ok(response)
}

impl Counts {
    fn record(&self, id: String) {
        *self.lock().entry(id).or_default() += 1;
        self.posts.fetch_add(1, Ordering::Relaxed);
        self.last_ns.fetch_max(epoch_ns(), Ordering::Relaxed);
    }

    fn stats(&self) -> SinkStats {
        let per_id = self.lock();
        SinkStats {
            posts: self.posts.load(Ordering::Relaxed),
            distinct: per_id.len() as u64,
            duplicates: per_id
                .values()
                .map(|&n| u64::from(n.saturating_sub(1)))
                .sum(),
            last_ns: self.last_ns.load(Ordering::Relaxed),
        }
    }

    fn reset(&self) {
        let mut per_id = self.lock();
        per_id.clear();
        self.posts.store(0, Ordering::Relaxed);
        self.last_ns.store(0, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, u32>> {
        self.per_id.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wall-clock nanoseconds since the Unix epoch: the one clock parent and child share.
pub fn epoch_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
