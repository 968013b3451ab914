//! Publishing from a backend with an unchanged SQS client (boto3): to the dev server's
//! SQS-compatible endpoint, and to a real queue (moto) that the dev server consumes. A real
//! WebSocket client receives exactly the data published.

#[path = "../../local/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_local::dev::backend::{AwsBackend, BackendChoice};
use switchboard_local::dev::{self, DevOptions, RunningServer};
use switchboard_tests::{Backend, REQUIRE_MOTO};

use support::*;

/// The Python with boto3 that the test command installs, or `None` (with a message).
fn python() -> Option<String> {
    match std::env::var("SWITCHBOARD_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var_os(REQUIRE_MOTO).is_some() => {
            panic!("SWITCHBOARD_PYTHON is unset: run the tests through scripts/test.sh")
        }
        _ => {
            eprintln!("skipping boto3 case: SWITCHBOARD_PYTHON unset (run scripts/test.sh)");
            None
        }
    }
}

/// Runs the boto3 publisher; panics with its stderr if it fails.
fn boto3_publish(python: &str, endpoint: &str, queue_url: Option<&str>, bodies: &[String]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/publish_boto3.py");
    let mut command = Command::new(python);
    command.arg(script).args(["--endpoint", endpoint]);
    if let Some(url) = queue_url {
        command.args(["--queue-url", url]);
    }
    let output = command.args(bodies).output().expect("run python");
    assert!(
        output.status.success(),
        "boto3 publisher failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ids = String::from_utf8_lossy(&output.stdout).lines().count();
    assert_eq!(ids, bodies.len(), "one message id per body");
}

async fn authenticated(server: &RunningServer, user: &str, tenant: &str) -> Client {
    let mut client = connect(&server.websocket_url).await;
    let auth = json!({"action": "auth", "token": dev_token(user, Some(tenant))}).to_string();
    send(&mut client, &auth).await;
    assert_eq!(next_json(&mut client).await["success"], true);
    client
}

/// Reads `n` frames and returns them sorted, so batch order does not matter.
async fn frames(client: &mut Client, n: usize) -> Vec<Value> {
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(next_json(client).await);
    }
    got.sort_by_key(Value::to_string);
    got
}

fn intents() -> (Vec<String>, Vec<Value>) {
    let bodies = vec![
        json!({"to": "user:alice", "data": {"n": 1}}).to_string(),
        json!({"to": "tenant:acme", "data": {"n": 2}, "id": "m-2"}).to_string(),
        json!({"to": "all", "data": [3, "three"]}).to_string(),
    ];
    let mut expected = vec![json!({"n": 1}), json!({"n": 2}), json!([3, "three"])];
    expected.sort_by_key(Value::to_string);
    (bodies, expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_publishes_through_the_dev_servers_sqs_endpoint() {
    let Some(python) = python() else { return };
    switchboard_tests::init_tracing();
    let server = dev::start(DevOptions {
        port: 0,
        ..DevOptions::default()
    })
    .await
    .unwrap();
    let mut alice = authenticated(&server, "alice", "acme").await;
    let mut bob = authenticated(&server, "bob", "other").await;

    let (bodies, expected) = intents();
    boto3_publish(&python, &format!("http://{}", server.addr), None, &bodies);

    assert_eq!(frames(&mut alice, 3).await, expected);
    assert_eq!(
        next_json(&mut bob).await,
        json!([3, "three"]),
        "bob gets only `all`"
    );
    assert_silent(&mut bob, Duration::from_millis(500)).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_publishes_to_a_real_queue_that_the_dev_server_consumes() {
    let Some(python) = python() else { return };
    switchboard_tests::init_tracing();
    let Some(moto) = Backend::moto().await else {
        return;
    };
    let aws = moto.aws.expect("moto resources");
    let options = DevOptions {
        port: 0,
        backend: BackendChoice::Aws(Box::new(AwsBackend {
            sdk: aws.sdk.clone(),
            table: aws.table.clone(),
            queue_url: Some(aws.queue_url.clone()),
            create: false,
        })),
        ..DevOptions::default()
    };
    let server = dev::start(options).await.unwrap();
    let mut alice = authenticated(&server, "alice", "acme").await;

    let (bodies, expected) = intents();
    boto3_publish(&python, &aws.endpoint, Some(&aws.queue_url), &bodies);

    assert_eq!(frames(&mut alice, 3).await, expected);
    server.shutdown().await;
}
