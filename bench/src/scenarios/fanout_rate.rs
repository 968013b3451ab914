//! Scenarios 1 and 8: how fast the worker posts, and what each delivery costs in CPU.
//!
//! Against the counting sink, the worker (real SDK client, default tuning: 64 posts in
//! flight) and the raw loop (64 keep-alive connections) take turns posting one frame to
//! the same rows, a few rounds each; the medians are compared. The sink runs in its own
//! process, so this process's CPU time is the posting side's alone: that is scenario 8.
//! Then the same worker, inside the embedded stack, broadcasts to real WebSocket clients
//! through the emulator.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use switchboard::store::MemoryStore;
use tokio::time::Instant;

use super::{Outcome, median};
use crate::herd::{Herd, Target};
use crate::pipeline::{self, Pipeline};
use crate::procstat;
use crate::raw;
use crate::report::Figure;
use crate::scale::Scale;
use crate::sink::{Sink, epoch_ns};
use crate::stack::{STAGE, Stack, StackOptions};
use crate::{BenchError, report};

/// Posts in flight: the worker's default concurrency, and the raw loop's connections.
pub const CONCURRENCY: usize = 64;
/// The absolute target of issue 8: the account's Management API throttle.
const TARGET_RATE: f64 = 10_000.0;
/// The target share of the raw rate.
const TARGET_SHARE: f64 = 0.8;
/// Longest one round may take.
const ROUND_PATIENCE: Duration = Duration::from_secs(120);

/// One round's rate and CPU cost.
struct Round {
    rate: f64,
    cpu_us_per_post: f64,
    delivery: f64,
    duplicates: u64,
}

/// Runs scenarios 1 and 8.
pub async fn run(scale: Scale) -> Result<Outcome, BenchError> {
    let (mut figures, raw) = against_sink(scale).await?;
    figures.push(against_emulator(scale, raw).await?);
    Ok(Outcome::Figures(figures))
}

/// The raw loop's posting rate against a fresh sink at `rows`; for scenario 2's floor.
pub async fn raw_rate(rows: usize) -> Result<f64, BenchError> {
    let mut sink = Sink::start().await?;
    let ids = Arc::new(pipeline::ids(rows));
    let frame = Bytes::from(frame_of(0));
    let round = raw_round(&mut sink, &ids, frame).await?;
    sink.stop().await;
    Ok(round.rate)
}

/// The worker and the raw loop against the sink; also returns the raw rate.
async fn against_sink(scale: Scale) -> Result<(Vec<Figure>, f64), BenchError> {
    let rows = scale.fanout_rows;
    let mut sink = Sink::start().await?;
    let ids = Arc::new(pipeline::ids(rows));
    let store = Arc::new(MemoryStore::new());
    for (index, id) in ids.iter().enumerate() {
        store.insert_raw(pipeline::live_row(id, index));
    }
    let worker = Pipeline::start(store, &sink.endpoint(STAGE)).await;

    let (mut ours, mut raws) = (Vec::new(), Vec::new());
    for round in 0..scale.fanout_rounds {
        raws.push(raw_round(&mut sink, &ids, Bytes::from(frame_of(round))).await?);
        ours.push(worker_round(&mut sink, &worker, rows, round).await?);
    }
    worker.stop().await;
    sink.stop().await;

    let rate = median(&ours.iter().map(|r| r.rate).collect::<Vec<_>>());
    let raw = median(&raws.iter().map(|r| r.rate).collect::<Vec<_>>());
    let cpu = median(&ours.iter().map(|r| r.cpu_us_per_post).collect::<Vec<_>>());
    let raw_cpu = median(&raws.iter().map(|r| r.cpu_us_per_post).collect::<Vec<_>>());
    let delivery = ours.iter().map(|r| r.delivery).fold(1.0, f64::min);
    let duplicates: u64 = ours.iter().map(|r| r.duplicates).sum();
    let met = rate >= TARGET_SHARE * raw && rate >= TARGET_RATE && delivery == 1.0;
    let name = format!(
        "fanout → counting sink, {} rows × {} rounds (delivery {delivery:.3}, {duplicates} dup)",
        report::count(rows),
        scale.fanout_rounds
    );
    let figures = vec![
        Figure::new(1, name, rate, "posts/s")
            .against("raw HTTP/1 loop", raw)
            .target("≥ 0.8× raw and ≥ 10,000/s", met),
        Figure::new(8, "CPU per delivery, worker + SDK (user+sys)", cpu, "µs")
            .against("raw loop client", raw_cpu),
    ];
    Ok((figures, raw))
}

/// The worker inside the embedded stack, broadcasting to real clients; `raw` is the raw
/// loop's rate against the sink.
async fn against_emulator(scale: Scale, raw: f64) -> Result<Figure, BenchError> {
    let (clients, rounds) = (scale.emulator_clients, scale.emulator_rounds);
    let mut stack = Stack::start(StackOptions::unthrottled()).await?;
    let mut herd = Herd::new(Target::parse(stack.url())?, clients, true);
    herd.grow(clients).await?;

    let started = Instant::now();
    for round in 0..rounds {
        stack.publish(&pipeline::broadcast(round)).await?;
    }
    let expected = (clients * rounds) as u64;
    let last = herd.wait_frames(expected, ROUND_PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tally = herd.tally(rounds as u32);
    herd.close().await;
    stack.stop().await;

    let Some(last) = last else {
        return Err(BenchError::Timeout(format!(
            "emulator broadcast: {} of {expected} frames",
            tally.frames
        )));
    };
    let rate = expected as f64 / (last - started).as_secs_f64();
    let name = format!(
        "fanout → emulator → {} WebSocket clients × {rounds} broadcasts \
         (delivery {:.3}, {} dup)",
        report::count(clients),
        tally.delivery,
        tally.duplicates
    );
    let met = rate >= TARGET_RATE && tally.delivery == 1.0 && tally.duplicates == 0;
    Ok(Figure::new(1, name, rate, "posts/s")
        .against("raw loop → sink", raw)
        .target("≥ 10,000/s", met))
}

async fn raw_round(
    sink: &mut Sink,
    ids: &Arc<Vec<String>>,
    frame: Bytes,
) -> Result<Round, BenchError> {
    sink.reset().await?;
    let cpu = procstat::own_cpu()?;
    let started = epoch_ns();
    let run = raw::post_all(sink.addr(), STAGE, Arc::clone(ids), CONCURRENCY, frame).await?;
    let stats = sink.wait_for(ids.len() as u64, ROUND_PATIENCE).await?;
    let cpu = procstat::own_cpu()?.since(cpu);
    if run.failed > 0 {
        return Err(BenchError::Failed(format!(
            "raw loop: {} posts failed",
            run.failed
        )));
    }
    Ok(Round {
        rate: per_second(stats.posts, started, stats.last_ns),
        cpu_us_per_post: micros_per(cpu.total(), stats.posts),
        delivery: stats.distinct as f64 / ids.len() as f64,
        duplicates: stats.duplicates,
    })
}

async fn worker_round(
    sink: &mut Sink,
    worker: &Pipeline,
    rows: usize,
    round: usize,
) -> Result<Round, BenchError> {
    sink.reset().await?;
    let cpu = procstat::own_cpu()?;
    let started = epoch_ns();
    worker.publish(&pipeline::broadcast(round)).await?;
    let stats = sink.wait_for(rows as u64, ROUND_PATIENCE).await?;
    let cpu = procstat::own_cpu()?.since(cpu);
    // Late duplicates would arrive now, if there were any.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats_after = sink.stats().await?;
    if stats.posts < rows as u64 {
        return Err(BenchError::Timeout(format!(
            "worker round: {} of {rows} posts",
            stats.posts
        )));
    }
    Ok(Round {
        rate: per_second(stats.posts, started, stats.last_ns),
        cpu_us_per_post: micros_per(cpu.total(), stats.posts),
        delivery: stats_after.distinct as f64 / rows as f64,
        duplicates: stats_after.duplicates,
    })
}

/// The frame a broadcast of `round` delivers: the intent's `data`, byte for byte.
fn frame_of(round: usize) -> String {
    format!(r#"{{"bench":"broadcast","round":{round}}}"#)
}

/// `count` events between two wall-clock instants, per second.
pub fn per_second(count: u64, from_ns: u64, to_ns: u64) -> f64 {
    let seconds = to_ns.saturating_sub(from_ns) as f64 / 1e9;
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn micros_per(cpu: Duration, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        cpu.as_secs_f64() * 1e6 / count as f64
    }
}
