//! Scenario 5: resident memory per idle authenticated connection in the embedded stack,
//! as the slope of its RSS between two audience sizes, against the same slope for a plain
//! WebSocket echo server holding unauthenticated idle connections.
//!
//! A slope rather than RSS / N, so that what the process holds anyway (code, runtime,
//! allocator arenas) cancels out.

use std::time::Duration;

use super::{Outcome, median};
use crate::BenchError;
use crate::child::Child;
use crate::echo::Echo;
use crate::herd::{Herd, Target};
use crate::report::{self, Figure};
use crate::scale::Scale;
use crate::stack::{Stack, StackOptions};

/// How long connections sit idle before RSS is read: long enough for every `auth`
/// reply to have been posted and for per-connection buffers to settle.
const SETTLE: Duration = Duration::from_secs(1);
/// The target of issue 8, bytes per connection.
const TARGET_BYTES: f64 = 16.0 * 1024.0;

/// Runs scenario 5.
pub async fn run(scale: Scale) -> Result<Outcome, BenchError> {
    let [small, large] = scale.idle_connections;

    let echo = Echo::start().await?;
    let echo_slope = slope(echo.child(), echo.url(), false, small, large).await?;
    echo.stop().await;

    let stack = Stack::start(StackOptions::unthrottled()).await?;
    let ours = slope(stack.child(), stack.url(), true, small, large).await?;
    stack.stop().await;

    let name = format!(
        "emulator RSS per idle authenticated connection, {} → {}",
        report::count(small),
        report::count(large)
    );
    Ok(Outcome::Figures(vec![
        Figure::new(5, name, ours / 1024.0, "KiB")
            .against("echo server, idle connection", echo_slope / 1024.0)
            .target("≤ 16 KiB", ours <= TARGET_BYTES),
    ]))
}

/// Bytes of RSS `server` gains per connection between `small` and `large` clients.
async fn slope(
    server: &Child,
    url: &str,
    auth: bool,
    small: usize,
    large: usize,
) -> Result<f64, BenchError> {
    let mut herd = Herd::new(Target::parse(url)?, large, auth);
    herd.grow(small).await?;
    let before = settled_rss(server).await?;
    herd.grow(large - small).await?;
    let after = settled_rss(server).await?;
    herd.close().await;
    Ok((after - before) / (large - small) as f64)
}

/// RSS after a quiet period, the median of a few readings.
async fn settled_rss(server: &Child) -> Result<f64, BenchError> {
    tokio::time::sleep(SETTLE).await;
    let mut readings = Vec::new();
    for _ in 0..3 {
        readings.push(server.rss()? as f64);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(median(&readings))
}
