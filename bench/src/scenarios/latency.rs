//! Scenario 7: publish-to-frame latency at light load on the embedded stack (one intent
//! at a time, to one authenticated user), against a WebSocket echo round trip on the same
//! machine.
//!
//! Ours runs from the publish command leaving this process to the frame arriving on the
//! client: stdin pipe, queue, worker, SDK client, Management API, emulator, socket. The
//! echo runs from sending a frame to reading it back.

use std::time::Duration;

use futures::SinkExt as _;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{Outcome, percentile};
use crate::BenchError;
use crate::echo::Echo;
use crate::herd::{self, Target};
use crate::report::Figure;
use crate::scale::Scale;
use crate::stack::{Stack, StackOptions};

/// Pause between samples, so each one meets an idle stack (light load).
const PAUSE: Duration = Duration::from_millis(2);
/// Samples discarded first, while pools and caches warm up.
const WARM_UP: usize = 10;
/// Longest one sample may take.
const PATIENCE: Duration = Duration::from_secs(10);
/// The target of issue 8: p99 within ten echo round trips.
const TARGET: f64 = 10.0;

/// Runs scenario 7.
pub async fn run(scale: Scale) -> Result<Outcome, BenchError> {
    let samples = scale.latency_samples;
    let echo = echo_round_trips(samples).await?;
    let ours = publish_to_frame(samples).await?;

    let (p50, p99) = (percentile(&ours, 50.0), percentile(&ours, 99.0));
    let (echo_p50, echo_p99) = (percentile(&echo, 50.0), percentile(&echo, 99.0));
    Ok(Outcome::Figures(vec![
        Figure::new(
            7,
            format!("publish → frame p50, {samples} samples"),
            p50,
            "ms",
        )
        .against("echo round trip p50", echo_p50),
        Figure::new(
            7,
            format!("publish → frame p99, {samples} samples"),
            p99,
            "ms",
        )
        .against("echo round trip p99", echo_p99)
        .target("≤ 10× echo p99", p99 <= TARGET * echo_p99),
    ]))
}

/// Latencies in milliseconds of publishing to user `u0` until its frame arrives.
async fn publish_to_frame(samples: usize) -> Result<Vec<f64>, BenchError> {
    let mut stack = Stack::start(StackOptions::default()).await?;
    let (mut socket, _) = herd::open(&Target::parse(stack.url())?, 0, true).await?;
    let mut latencies = Vec::with_capacity(samples);
    for seq in 0..samples + WARM_UP {
        let intent = format!(r#"{{"to":"user:u0","data":{{"seq":{seq}}}}}"#);
        let started = Instant::now();
        stack.publish(&intent).await?;
        let frame = herd::next_text(&mut socket, PATIENCE).await?;
        let elapsed = started.elapsed();
        if frame != format!(r#"{{"seq":{seq}}}"#) {
            return Err(BenchError::Failed(format!(
                "expected seq {seq}, got {frame}"
            )));
        }
        if seq >= WARM_UP {
            latencies.push(elapsed.as_secs_f64() * 1e3);
        }
        tokio::time::sleep(PAUSE).await;
    }
    drop(socket);
    stack.stop().await;
    Ok(latencies)
}

/// Round trips in milliseconds of one frame to the echo server and back.
async fn echo_round_trips(samples: usize) -> Result<Vec<f64>, BenchError> {
    let echo = Echo::start().await?;
    let (mut socket, _) = herd::open(&Target::parse(echo.url())?, 0, false).await?;
    let mut latencies = Vec::with_capacity(samples);
    for seq in 0..samples + WARM_UP {
        let frame = format!(r#"{{"seq":{seq}}}"#);
        let started = Instant::now();
        socket
            .send(Message::text(frame.clone()))
            .await
            .map_err(|e| BenchError::Failed(format!("echo send: {e}")))?;
        let back = herd::next_text(&mut socket, PATIENCE).await?;
        let elapsed = started.elapsed();
        if back != frame {
            return Err(BenchError::Failed(format!("echo returned {back}")));
        }
        if seq >= WARM_UP {
            latencies.push(elapsed.as_secs_f64() * 1e3);
        }
        tokio::time::sleep(PAUSE).await;
    }
    drop(socket);
    echo.stop().await;
    Ok(latencies)
}
