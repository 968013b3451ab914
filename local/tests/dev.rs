//! `switchboard dev` end to end on the embedded store and queue: the real handlers and
//! fanout worker behind the emulator, driven by real WebSocket clients over TCP, with the
//! worker posting through the AWS SDK to the emulator's Management API.

mod support;

use std::time::Duration;

use futures::SinkExt;
use serde_json::{Value, json};
use switchboard_local::dev::{self, DevOptions, RunningServer};
use tokio_tungstenite::tungstenite::Message;

use support::*;

/// Long enough to be sure a frame that should not arrive does not.
const QUIET: Duration = Duration::from_millis(500);

async fn start_with(options: DevOptions) -> RunningServer {
    dev::start(DevOptions { port: 0, ..options })
        .await
        .expect("dev server starts")
}

async fn start() -> RunningServer {
    start_with(DevOptions::default()).await
}

/// A connected client authenticated as `user` in `tenant`.
async fn signed_in(server: &RunningServer, user: &str, tenant: Option<&str>) -> Client {
    let mut client = connect(&server.websocket_url).await;
    let mut request = json!({"action": "auth", "token": dev_token(user, tenant), "id": "a1"});
    if let Some(tenant) = tenant {
        request["tenantId"] = json!(tenant);
    }
    send(&mut client, &request.to_string()).await;
    let reply = next_json(&mut client).await;
    assert_eq!(reply["action"], "auth", "{reply}");
    assert_eq!(reply["success"], true, "{reply}");
    assert_eq!(reply["userId"], user);
    assert_eq!(reply["id"], "a1");
    client
}

fn message(from: &str, data: Value) -> Value {
    json!({"action": "message", "from": from, "data": data})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_connects_authenticates_and_pings() {
    let server = start().await;
    let mut client = signed_in(&server, "alice", Some("acme")).await;

    send(&mut client, r#"{"action":"ping","id":7}"#).await;
    let pong = next_json(&mut client).await;
    assert_eq!(pong["action"], "pong");
    assert_eq!(pong["id"], 7);
    assert!(pong["timestamp"].as_str().unwrap().ends_with('Z'));

    send(&mut client, r#"{"action":"auth","token":"not-a-jwt"}"#).await;
    let refused = next_json(&mut client).await;
    assert_eq!(refused["success"], false);
    assert_eq!(refused["error"], "invalid_token");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_reaches_every_connection_of_a_user_and_survives_one_closing() {
    let server = start().await;
    let mut first = signed_in(&server, "alice", Some("acme")).await;
    let mut second = signed_in(&server, "alice", Some("acme")).await;
    let mut bob = signed_in(&server, "bob", Some("acme")).await;

    send(
        &mut bob,
        r#"{"action":"send","to":"alice","data":{"text":"hi"}}"#,
    )
    .await;
    assert_eq!(
        next_json(&mut first).await,
        message("bob", json!({"text": "hi"}))
    );
    assert_eq!(
        next_json(&mut second).await,
        message("bob", json!({"text": "hi"}))
    );

    close(&mut first).await;
    send(&mut bob, r#"{"action":"send","to":"alice","data":2}"#).await;
    assert_eq!(next_json(&mut second).await, message("bob", json!(2)));
    assert_silent(&mut bob, QUIET).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_stays_inside_the_senders_tenant() {
    let server = start().await;
    let mut sender = signed_in(&server, "alice", Some("acme")).await;
    let mut colleague = signed_in(&server, "carol", Some("acme")).await;
    let mut outsider = signed_in(&server, "gus", Some("globex")).await;

    send(&mut sender, r#"{"action":"broadcast","data":{"n":1}}"#).await;
    let expected = message("alice", json!({"n": 1}));
    assert_eq!(next_json(&mut colleague).await, expected);
    assert_eq!(next_json(&mut sender).await, expected);
    assert_silent(&mut outsider, QUIET).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_data_and_ids_arrive_exactly_as_written() {
    let server = start().await;
    let mut sender = signed_in(&server, "alice", None).await;
    let mut reader = signed_in(&server, "bob", None).await;

    let data = r#"{"z":1,"a":"\u00e9","big":12345678901234567890123,"f":1.50}"#;
    let frame = format!(r#"{{"action":"broadcast","excludeSelf":true,"data":{data}}}"#);
    send(&mut sender, &frame).await;
    let expected = format!(r#"{{"action":"message","from":"alice","data":{data}}}"#);
    assert_eq!(next_text(&mut reader).await, expected);

    send(
        &mut sender,
        r#"{"action":"ping","id":98765432109876543210}"#,
    )
    .await;
    let pong = next_text(&mut sender).await;
    assert!(pong.ends_with(r#","id":98765432109876543210}"#), "{pong}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_client_is_refused_broadcast_and_closed_at_the_deadline() {
    let mut options = DevOptions::default();
    options.session.auth_timeout = Duration::from_secs(1);
    let server = start_with(options).await;
    let mut listener = signed_in(&server, "alice", None).await;
    let opened = tokio::time::Instant::now();
    let mut stranger = connect(&server.websocket_url).await;

    send(&mut stranger, r#"{"action":"broadcast","data":"spam"}"#).await;
    let refused = next_json(&mut stranger).await;
    assert_eq!(refused["action"], "error");
    assert_eq!(refused["error"], "unauthenticated");

    assert_eq!(close_code(&mut stranger).await, 1000);
    assert!(opened.elapsed() >= Duration::from_millis(900));
    assert_silent(&mut listener, QUIET).await;
    assert_eq!(server.open_connections(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_1009_and_binary_frame_closes_1003() {
    let server = start().await;
    let mut big = signed_in(&server, "alice", None).await;
    send(&mut big, &"x".repeat(33 * 1024)).await;
    assert_eq!(close_code(&mut big).await, 1009);

    let mut binary = signed_in(&server, "bob", None).await;
    binary.send(Message::binary(vec![0u8; 4])).await.unwrap();
    assert_eq!(close_code(&mut binary).await, 1003);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_post_to_a_closed_connection_is_gone_through_the_sdk() {
    let server = start().await;
    let mut client = connect(&server.websocket_url).await;
    send(&mut client, r#"{"action":"ping"}"#).await;
    next_json(&mut client).await;
    let ids = server.connection_ids();
    assert_eq!(ids.len(), 1);
    close(&mut client).await;

    let sdk = switchboard::aws::for_endpoint(&server.management_url).await;
    let api = aws_sdk_apigatewaymanagement::Client::new(&sdk);
    let error = api
        .post_to_connection()
        .connection_id(&ids[0])
        .data(aws_smithy_types::Blob::new(b"hello".to_vec()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_gone_exception(), "{error:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_1001() {
    let server = start().await;
    let mut client = signed_in(&server, "alice", None).await;
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(close_code(&mut client).await, 1001);
    tokio::time::timeout(PATIENCE, stopping)
        .await
        .unwrap()
        .unwrap();
}

/// A batch within SQS's 1 MiB of message bytes, sent the way boto3 sends non-ASCII text
/// (`\u00e9`, six bytes on the wire for two in the message), is accepted whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_endpoint_counts_a_batch_in_message_bytes_not_escaped_request_bytes() {
    let server = start().await;
    let mut alice = signed_in(&server, "alice", None).await;
    let data = "\\u00e9".repeat(40_000);
    let entries: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"Id":"e{i}","MessageBody":"{{\"to\":\"user:alice\",\"data\":\"{data}\"}}"}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"QueueUrl":"{}","Entries":[{}]}}"#,
        server.sqs_queue_url,
        entries.join(",")
    );
    assert!(body.len() > 2 * 1024 * 1024, "past axum's default limit");

    let response = reqwest::Client::new()
        .post(format!("http://{}/", server.addr))
        .header("x-amz-target", "AmazonSQS.SendMessageBatch")
        .header("content-type", "application/x-amz-json-1.0")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["Successful"].as_array().unwrap().len(),
        10,
        "{answer}"
    );
    assert_eq!(answer["Failed"].as_array().unwrap().len(), 0, "{answer}");

    let expected = format!("\"{}\"", "é".repeat(40_000));
    for _ in 0..10 {
        assert_eq!(next_text(&mut alice).await, expected);
    }
    server.shutdown().await;
}
