//! `switchboard dev` on DynamoDB and SQS (moto) instead of the embedded store and queue:
//! the same real clients, handlers, event source and worker, with every record and intent
//! going through the AWS SDK. Skips when moto is not running, unless it is required.

#[path = "../../local/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use aws_sdk_apigatewaymanagement::primitives::Blob;
use serde_json::{Value, json};
use switchboard_local::dev::backend::{AwsBackend, BackendChoice};
use switchboard_local::dev::{self, DevOptions, RunningServer};
use switchboard_tests::Backend;

use support::*;

/// Long enough to be sure a frame that should not arrive does not.
const QUIET: Duration = Duration::from_millis(800);

/// The dev server on a fresh moto table and queue, or `None` when moto is not running.
async fn start_on_moto(auth_timeout: Duration) -> Option<RunningServer> {
    switchboard_tests::init_tracing();
    let aws = Backend::moto()
        .await?
        .aws
        .expect("moto backend has AWS resources");
    let mut options = DevOptions {
        port: 0,
        backend: BackendChoice::Aws(Box::new(AwsBackend {
            sdk: aws.sdk,
            table: aws.table,
            queue_url: Some(aws.queue_url),
            create: false,
        })),
        ..DevOptions::default()
    };
    options.session.auth_timeout = auth_timeout;
    let server = dev::start(options)
        .await
        .expect("dev server on moto starts");
    assert!(
        server
            .store_description
            .starts_with("DynamoDB table connections-")
    );
    Some(server)
}

async fn signed_in(server: &RunningServer, user: &str, tenant: &str) -> Client {
    let mut client = connect(&server.websocket_url).await;
    let request =
        json!({"action": "auth", "token": dev_token(user, Some(tenant)), "tenantId": tenant});
    send(&mut client, &request.to_string()).await;
    let reply = next_json(&mut client).await;
    assert_eq!(reply["success"], true, "{reply}");
    client
}

fn message(from: &str, data: Value) -> Value {
    json!({"action": "message", "from": from, "data": data})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_service_runs_end_to_end_on_dynamodb_and_sqs() {
    let Some(server) = start_on_moto(Duration::from_secs(2)).await else {
        return;
    };
    let mut first = signed_in(&server, "alice", "acme").await;
    let mut second = signed_in(&server, "alice", "acme").await;
    let mut bob = signed_in(&server, "bob", "acme").await;
    let mut outsider = signed_in(&server, "gus", "globex").await;

    send(&mut bob, r#"{"action":"ping","id":1}"#).await;
    assert_eq!(next_json(&mut bob).await["action"], "pong");

    send(&mut bob, r#"{"action":"send","to":"alice","data":"hi"}"#).await;
    assert_eq!(next_json(&mut first).await, message("bob", json!("hi")));
    assert_eq!(next_json(&mut second).await, message("bob", json!("hi")));

    close(&mut first).await;
    send(&mut bob, r#"{"action":"broadcast","data":{"n":2}}"#).await;
    assert_eq!(
        next_json(&mut second).await,
        message("bob", json!({"n": 2}))
    );
    assert_eq!(next_json(&mut bob).await, message("bob", json!({"n": 2})));
    assert_silent(&mut outsider, QUIET).await;

    let mut stranger = connect(&server.websocket_url).await;
    send(&mut stranger, r#"{"action":"broadcast","data":"spam"}"#).await;
    assert_eq!(next_json(&mut stranger).await["error"], "unauthenticated");
    assert_eq!(close_code(&mut stranger).await, 1000);

    let mut big = signed_in(&server, "carol", "acme").await;
    send(&mut big, &"x".repeat(40 * 1024)).await;
    assert_eq!(close_code(&mut big).await, 1009);

    let ids_before = server.connection_ids();
    close(&mut second).await;
    let gone = ids_before
        .iter()
        .find(|id| !server.connection_ids().contains(id))
        .expect("the closed connection's id")
        .clone();
    let sdk = switchboard::aws::for_endpoint(&server.management_url).await;
    let error = aws_sdk_apigatewaymanagement::Client::new(&sdk)
        .post_to_connection()
        .connection_id(gone)
        .data(Blob::new(b"late".to_vec()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_gone_exception(), "{error:?}");

    server.shutdown().await;
}
