//! Scenario 6: how many `$connect`s per second the emulator completes with the real
//! handler on the embedded store, against plain WebSocket handshakes to the echo server
//! from the same client herd.
//!
//! The stage keeps API Gateway's default throttle (10,000/s, burst 5,000), so a figure
//! above it would be refused the way AWS refuses it; throttled retries are counted.

use tokio::time::Instant;

use super::Outcome;
use crate::BenchError;
use crate::echo::Echo;
use crate::herd::{CONNECT_CONCURRENCY, Herd, Target};
use crate::report::{self, Figure};
use crate::scale::Scale;
use crate::stack::{Stack, StackOptions};

/// The target of issue 8: ten times AWS's default quota of new connections.
const TARGET: f64 = 5_000.0;

/// Runs scenario 6.
pub async fn run(scale: Scale) -> Result<Outcome, BenchError> {
    let n = scale.connects;

    let echo = Echo::start().await?;
    let (echo_rate, _) = connect_all(echo.url(), n).await?;
    echo.stop().await;

    let stack = Stack::start(StackOptions::default()).await?;
    let (rate, throttled) = connect_all(stack.url(), n).await?;
    stack.stop().await;

    let name = format!(
        "$connect through the emulator, {} connections, {CONNECT_CONCURRENCY} at a time \
         ({throttled} throttled retries)",
        report::count(n)
    );
    Ok(Outcome::Figures(vec![
        Figure::new(6, name, rate, "conn/s")
            .against("echo server handshakes", echo_rate)
            .target("≥ 5,000/s", rate >= TARGET),
    ]))
}

/// Opens `n` connections to `url` and returns handshakes per second and 429 retries.
async fn connect_all(url: &str, n: usize) -> Result<(f64, u64), BenchError> {
    let mut herd = Herd::new(Target::parse(url)?, n, false);
    let started = Instant::now();
    herd.grow(n).await?;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let throttled = herd.throttled;
    herd.close().await;
    Ok((rate, throttled))
}
