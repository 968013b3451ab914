//! Scenario 2: broadcast completion T(N), from enqueuing one `all` intent to the last
//! frame received, against the floor N / raw rate (the raw loop's rate against the
//! counting sink, measured in the same run).
//!
//! Real WebSocket audiences go through the embedded stack (a child process, as
//! `switchboard dev` would run); the largest audience goes to the counting sink, where
//! only the worker and HTTP stand between the intent and the floor.

use std::sync::Arc;
use std::time::Duration;

use switchboard::store::MemoryStore;
use tokio::time::Instant;

use super::{Outcome, fanout_rate};
use crate::BenchError;
use crate::herd::{Herd, Target};
use crate::pipeline::{self, Pipeline};
use crate::report::{self, Figure};
use crate::scale::Scale;
use crate::sink::{Sink, epoch_ns};
use crate::stack::{STAGE, Stack, StackOptions};

/// The target of issue 8: T(N) within 1.3 of the floor.
const TARGET: f64 = 1.3;
/// Longest one broadcast may take.
const PATIENCE: Duration = Duration::from_secs(180);
/// How long to keep listening after the last expected frame, for duplicates.
const LINGER: Duration = Duration::from_millis(300);

/// What one broadcast measured.
struct Completion {
    seconds: f64,
    delivery: f64,
    duplicates: u64,
}

/// Runs scenario 2.
pub async fn run(scale: Scale) -> Result<Outcome, BenchError> {
    let raw = fanout_rate::raw_rate(scale.broadcast_sink).await?;
    let mut figures = Vec::new();
    for n in scale.broadcast_sockets {
        let done = to_sockets(n).await?;
        figures.push(figure(
            format!("{} WebSocket clients", report::count(n)),
            n,
            raw,
            &done,
        ));
    }
    let n = scale.broadcast_sink;
    let done = to_sink(n).await?;
    figures.push(figure(
        format!("{} rows → counting sink", report::count(n)),
        n,
        raw,
        &done,
    ));
    Ok(Outcome::Figures(figures))
}

fn figure(audience: String, n: usize, raw: f64, done: &Completion) -> Figure {
    let floor = n as f64 / raw;
    let met = done.seconds / floor <= TARGET && done.delivery == 1.0 && done.duplicates == 0;
    let name = format!(
        "T(N), broadcast to {audience} (delivery {:.3}, {} dup)",
        done.delivery, done.duplicates
    );
    Figure::new(2, name, done.seconds * 1e3, "ms")
        .against("floor N / raw rate", floor * 1e3)
        .target("≤ 1.3× floor, delivery 1.0, 0 dup", met)
}

async fn to_sockets(n: usize) -> Result<Completion, BenchError> {
    let mut stack = Stack::start(StackOptions::unthrottled()).await?;
    let mut herd = Herd::new(Target::parse(stack.url())?, n, true);
    herd.grow(n).await?;

    let started = Instant::now();
    stack.publish(&pipeline::broadcast(0)).await?;
    let last = herd.wait_frames(n as u64, PATIENCE).await;
    tokio::time::sleep(LINGER).await;
    let tally = herd.tally(1);
    herd.close().await;
    stack.stop().await;

    let last = last
        .ok_or_else(|| BenchError::Timeout(format!("broadcast to {n}: {} frames", tally.frames)))?;
    Ok(Completion {
        seconds: (last - started).as_secs_f64(),
        delivery: tally.delivery,
        duplicates: tally.duplicates,
    })
}

async fn to_sink(n: usize) -> Result<Completion, BenchError> {
    let mut sink = Sink::start().await?;
    let store = Arc::new(MemoryStore::new());
    for (index, id) in pipeline::ids(n).iter().enumerate() {
        store.insert_raw(pipeline::live_row(id, index));
    }
    let worker = Pipeline::start(store, &sink.endpoint(STAGE)).await;

    let started = epoch_ns();
    worker.publish(&pipeline::broadcast(0)).await?;
    let stats = sink.wait_for(n as u64, PATIENCE).await?;
    tokio::time::sleep(LINGER).await;
    let after = sink.stats().await?;
    worker.stop().await;
    sink.stop().await;

    if stats.posts < n as u64 {
        return Err(BenchError::Timeout(format!(
            "broadcast to sink: {} of {n}",
            stats.posts
        )));
    }
    Ok(Completion {
        seconds: stats.last_ns.saturating_sub(started) as f64 / 1e9,
        delivery: after.distinct as f64 / n as f64,
        duplicates: after.duplicates,
    })
}
