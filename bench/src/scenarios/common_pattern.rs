//! Scenario 3: the common pattern side by side with ours, on the same DynamoDB table
//! (moto) and the same Management API (the counting sink).
//!
//! The Node.js script in `bench/node/` does one Scan and then every `PostToConnection`
//! at once with `Promise.all` on SDK v3 defaults, and a paginated variant of the same.
//! Ours is the worker: an `all` intent split into parallel scan segments, each streamed
//! into bounded-concurrency posting. Times run from the first read to the last post.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _, stream};
use serde::Deserialize;
use switchboard::store::DynamoStore;
use tokio::process::Command;

use super::Outcome;
use crate::BenchError;
use crate::moto::Moto;
use crate::pipeline::{self, Pipeline};
use crate::report::{self, Figure};
use crate::scale::Scale;
use crate::sink::{Sink, epoch_ns};
use crate::stack::STAGE;

/// The connections table created on moto.
const TABLE: &str = "bench-connections";
/// Rows written at once while seeding.
const SEED_CONCURRENCY: usize = 32;
/// Longest one side may take.
const PATIENCE: Duration = Duration::from_secs(300);
/// The target of issue 8: ours at least this many times faster.
const TARGET: f64 = 5.0;

/// What the Node.js script prints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeRun {
    scanned: u64,
    failed: u64,
    elapsed_ms: f64,
    scan_ms: f64,
}

/// One side's time and delivery.
struct Side {
    ms: f64,
    delivery: f64,
    duplicates: u64,
}

/// Runs scenario 3, or says what is missing.
pub async fn run(scale: Scale) -> Result<Outcome, BenchError> {
    if let Some(reason) = missing().await {
        return Ok(Outcome::Skipped(reason));
    }
    let Some(moto) = Moto::start().await? else {
        return Ok(Outcome::Skipped("moto is not installed".into()));
    };
    let n = scale.pattern_rows;
    let store = seed(moto.endpoint(), n).await?;
    let mut sink = Sink::start().await?;

    let ours = ours(&mut sink, store, n).await?;
    let single = node(&mut sink, moto.endpoint(), "single", n).await?;
    let paged = node(&mut sink, moto.endpoint(), "paged", n).await?;
    sink.stop().await;

    let rows = report::count(n);
    let figure = |variant: &str, theirs: &Side| {
        let name = format!(
            "{rows} rows: ours (delivery {:.3}, {} dup) vs Node.js {variant} \
             (delivery {:.3}, {} dup)",
            ours.delivery, ours.duplicates, theirs.delivery, theirs.duplicates
        );
        let met = theirs.ms / ours.ms >= TARGET && ours.delivery == 1.0 && ours.duplicates == 0;
        Figure::new(3, name, ours.ms, "ms")
            .against_inverse(format!("Node.js {variant}"), theirs.ms)
            .target("≥ 5× faster, delivery 1.0", met)
    };
    Ok(Outcome::Figures(vec![
        figure("Scan + Promise.all", &single),
        figure("paginated Scan + Promise.all", &paged),
    ]))
}

/// Why the scenario cannot run here, if it cannot.
async fn missing() -> Option<String> {
    if !Moto::binary().exists() {
        return Some(format!(
            "moto not found at {} (scripts/test.sh installs it)",
            Moto::binary().display()
        ));
    }
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if !node.is_ok_and(|s| s.success()) {
        return Some("node is not installed (Node.js 20+ is needed)".into());
    }
    if !script_dir().join("node_modules").exists() {
        return Some("bench/node has no node_modules: run `npm ci --prefix bench/node`".into());
    }
    None
}

fn script_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Creates the table on moto and writes `n` live, authenticated rows.
async fn seed(endpoint: &str, n: usize) -> Result<Arc<DynamoStore>, BenchError> {
    let sdk = switchboard::aws::for_endpoint(endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    switchboard::provision::create_table(&client, TABLE)
        .await
        .map_err(|e| BenchError::Failed(e.to_string()))?;
    let store = Arc::new(DynamoStore::new(client, TABLE));
    let ids = pipeline::ids(n);
    stream::iter(ids.iter().enumerate())
        .map(|(index, id)| {
            let store = Arc::clone(&store);
            async move { store.insert_raw(&pipeline::live_row(id, index)).await }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map_err(|e| BenchError::Failed(format!("seeding moto: {e}")))?;
    Ok(store)
}

async fn ours(sink: &mut Sink, store: Arc<DynamoStore>, n: usize) -> Result<Side, BenchError> {
    sink.reset().await?;
    let worker = Pipeline::start(store, &sink.endpoint(STAGE)).await;
    let started = epoch_ns();
    worker.publish(&pipeline::broadcast(0)).await?;
    let stats = sink.wait_for(n as u64, PATIENCE).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = sink.stats().await?;
    worker.stop().await;
    Ok(Side {
        ms: stats.last_ns.saturating_sub(started) as f64 / 1e6,
        delivery: after.distinct as f64 / n as f64,
        duplicates: after.duplicates,
    })
}

async fn node(sink: &mut Sink, moto: &str, mode: &str, n: usize) -> Result<Side, BenchError> {
    sink.reset().await?;
    let run = Command::new("node")
        .arg("broadcast.mjs")
        .current_dir(script_dir())
        .env("DYNAMODB_ENDPOINT", moto)
        .env("TABLE", TABLE)
        .env("MANAGEMENT_ENDPOINT", sink.endpoint(STAGE))
        .env("MODE", mode)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(PATIENCE, run)
        .await
        .map_err(|_| BenchError::Timeout(format!("node {mode}")))?
        .map_err(BenchError::io("running node"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let result: NodeRun = serde_json::from_str(text.trim())
        .map_err(|e| BenchError::Failed(format!("node {mode} printed {text:?}: {e}")))?;
    let stats = sink.stats().await?;
    eprintln!(
        "  node {mode}: scanned {}, failed {}, {:.0} ms of which {:.0} ms waiting for Scan",
        result.scanned, result.failed, result.elapsed_ms, result.scan_ms
    );
    Ok(Side {
        ms: result.elapsed_ms,
        delivery: stats.distinct as f64 / n as f64,
        duplicates: stats.duplicates,
    })
}
