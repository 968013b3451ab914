//! The baseline client: `concurrency` keep-alive HTTP/1 connections, each posting one
//! request after another, with nothing else in the way: no signing, no endpoint
//! resolution, no retries. The best any Management API client could do on this machine
//! against the same sink.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures::future::join_all;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::{Request, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::BenchError;

/// What one loop did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawRun {
    /// Posts answered 200.
    pub posts: u64,
    /// Posts answered otherwise, or lost with their connection.
    pub failed: u64,
}

/// Posts `frame` once to each of `ids` at `addr`, over `concurrency` connections.
pub async fn post_all(
    addr: SocketAddr,
    stage: &str,
    ids: Arc<Vec<String>>,
    concurrency: usize,
    frame: Bytes,
) -> Result<RawRun, BenchError> {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let prefix: Arc<str> = format!("/{stage}/@connections/").into();
    let workers = (0..concurrency.max(1)).map(|_| {
        let (ids, next, failed) = (Arc::clone(&ids), Arc::clone(&next), Arc::clone(&failed));
        let (prefix, frame) = (Arc::clone(&prefix), frame.clone());
        tokio::spawn(async move { post_loop(addr, &prefix, &ids, &next, &failed, frame).await })
    });
    let mut posts = 0;
    for result in join_all(workers).await {
        posts += result.map_err(|e| BenchError::Failed(format!("raw loop task: {e}")))??;
    }
    Ok(RawRun {
        posts,
        failed: failed.load(Ordering::Relaxed),
    })
}

/// One connection's loop: takes the next id until none are left.
async fn post_loop(
    addr: SocketAddr,
    prefix: &str,
    ids: &[String],
    next: &AtomicUsize,
    failed: &AtomicU64,
    frame: Bytes,
) -> Result<u64, BenchError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(BenchError::io("raw loop connect"))?;
    stream
        .set_nodelay(true)
        .map_err(BenchError::io("raw loop nodelay"))?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| BenchError::Failed(format!("raw loop handshake: {e}")))?;
    let driver = tokio::spawn(connection);
    let host = addr.to_string();
    let mut posts = 0;
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(id) = ids.get(index) else { break };
        let request = Request::post(format!("{prefix}{id}"))
            .header(header::HOST, &host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(frame.clone()))
            .map_err(|e| BenchError::Failed(format!("raw loop request: {e}")))?;
        let answered = match sender.send_request(request).await {
            Ok(response) => {
                let ok = response.status().is_success();
                let _ = response.into_body().collect().await;
                ok
            }
            Err(_) => false,
        };
        if answered {
            posts += 1;
        } else {
            failed.fetch_add(1, Ordering::Relaxed);
            if sender.is_closed() {
                break;
            }
        }
    }
    drop(sender);
    driver.abort();
    Ok(posts)
}
