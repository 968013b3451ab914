//! Scenario 4: cold start, from exec of a release binary to its first request for work
//! (`GET /2018-06-01/runtime/invocation/next`) on a Lambda Runtime API stand-in on
//! loopback, against a hello-world `lambda_runtime` binary built with the same profile
//! (`bench-hello-lambda`); and the size of each binary.
//!
//! This is the part of a Lambda cold start that the binary controls: loading, reading
//! configuration, building SDK clients. Starting the execution environment is AWS's and
//! the same for every binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::time::Instant;

use super::{Outcome, median};
use crate::BenchError;
use crate::report::Figure;
use crate::scale::Scale;
use switchboard_local::dev::DEV_SECRET;

/// The handler binaries, in the order reported.
const BINARIES: [&str; 4] = [
    "switchboard-connect",
    "switchboard-disconnect",
    "switchboard-default",
    "switchboard-fanout",
];
/// The baseline binary, built from `src/bin/hello_lambda.rs`.
const HELLO: &str = "bench-hello-lambda";
/// The path every Lambda runtime client asks for work on.
const NEXT: &str = "/2018-06-01/runtime/invocation/next";
/// Longest a binary may take to ask for work.
const PATIENCE: Duration = Duration::from_secs(10);
/// Targets of issue 8.
const TARGET_RATIO: f64 = 2.0;
const TARGET_BYTES: f64 = 10.0 * 1024.0 * 1024.0;

/// Runs scenario 4, or says how to build what is missing.
pub async fn run(scale: Scale) -> Result<Outcome, BenchError> {
    let dir = release_dir()?;
    let missing: Vec<&str> = BINARIES
        .iter()
        .chain([&HELLO])
        .copied()
        .filter(|name| !dir.join(name).exists())
        .collect();
    if !missing.is_empty() {
        return Ok(Outcome::Skipped(format!(
            "release binaries missing in {} ({}): run `cargo build --release -p \
             switchboard-handlers -p switchboard-fanout -p switchboard-bench`",
            dir.display(),
            missing.join(", ")
        )));
    }
    let stand_in = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(BenchError::io("binding the runtime API stand-in"))?;

    let hello_ms = median_start(&stand_in, &dir.join(HELLO), scale.cold_starts).await?;
    let hello_size = size(&dir.join(HELLO))?;
    let mut figures = Vec::new();
    let mut sizes = Vec::new();
    for name in BINARIES {
        let path = dir.join(name);
        let ms = median_start(&stand_in, &path, scale.cold_starts).await?;
        figures.push(
            Figure::new(
                4,
                format!("cold start {name}, median of {}", scale.cold_starts),
                ms,
                "ms",
            )
            .against(HELLO, hello_ms)
            .target("≤ 2× hello-world", ms <= TARGET_RATIO * hello_ms),
        );
        let bytes = size(&path)?;
        sizes.push(
            Figure::new(
                4,
                format!("size {name} (release, stripped)"),
                bytes / 1e6,
                "MB",
            )
            .against(HELLO, hello_size / 1e6)
            .target("≤ 10 MB", bytes <= TARGET_BYTES),
        );
    }
    figures.append(&mut sizes);
    Ok(Outcome::Figures(figures))
}

/// Where release binaries are: beside this one in a release build, else the sibling
/// `release` directory of this debug build's target directory.
fn release_dir() -> Result<PathBuf, BenchError> {
    let exe = std::env::current_exe().map_err(BenchError::io("locating this binary"))?;
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("release") {
        return Ok(dir);
    }
    Ok(dir.parent().map(|p| p.join("release")).unwrap_or(dir))
}

fn size(path: &Path) -> Result<f64, BenchError> {
    let meta = std::fs::metadata(path).map_err(BenchError::io(path.display().to_string()))?;
    Ok(meta.len() as f64)
}

async fn median_start(
    stand_in: &TcpListener,
    binary: &Path,
    runs: usize,
) -> Result<f64, BenchError> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        times.push(start_once(stand_in, binary).await?.as_secs_f64() * 1e3);
    }
    Ok(median(&times))
}

/// Starts `binary` once and returns the time until it asked for work.
async fn start_once(stand_in: &TcpListener, binary: &Path) -> Result<Duration, BenchError> {
    let api = stand_in
        .local_addr()
        .map_err(BenchError::io("stand-in address"))?;
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(environment(&api.to_string(), &name))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io(format!("starting {name}")))?;
    let asked = tokio::time::timeout(PATIENCE, first_request(stand_in)).await;
    let elapsed = started.elapsed();
    let _ = child.kill().await;
    match asked {
        Ok(Ok(path)) if path == NEXT => Ok(elapsed),
        Ok(Ok(path)) => Err(BenchError::Failed(format!("{name} first asked for {path}"))),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr).await;
            }
            Err(BenchError::Timeout(format!(
                "{name} never asked for work: {stderr}"
            )))
        }
    }
}

/// Accepts one connection and reads its request line; returns the path.
async fn first_request(stand_in: &TcpListener) -> Result<String, BenchError> {
    let (mut stream, _) = stand_in
        .accept()
        .await
        .map_err(BenchError::io("accepting on the stand-in"))?;
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let read = stream
            .read(&mut buffer)
            .await
            .map_err(BenchError::io("reading the first request"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&head);
    Ok(line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned())
}

/// What Lambda sets for a function, plus what our binaries need to start: the same for
/// every binary, hello-world included.
fn environment(api: &str, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_SESSION_TOKEN", "test".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("CONNECTIONS_TABLE", "connections".into()),
        (
            "INTENTS_QUEUE_URL",
            "http://127.0.0.1:9/000000000000/intents".into(),
        ),
        ("WEBSOCKET_ENDPOINT", "http://127.0.0.1:9/bench".into()),
        ("JWT_SECRET", DEV_SECRET.into()),
    ]
}
