//! Real API Gateway events (`tests/fixtures/events/`) reach the right handler, and so do
//! the shape variations AWS produces: `null` headers, unknown fields, missing keys.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::{Harness, claims};

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/events")
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn connection_id(event: &Value) -> String {
    event["requestContext"]["connectionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Handles `event` on a fresh harness where its connection is open, and returns what
/// happened: the status, whether the row survived, and the intents enqueued.
async fn run(event: Value) -> (i64, bool, Vec<Value>) {
    let h = Harness::new();
    let id = connection_id(&event);
    h.open_as(&id, claims("u1", json!({}))).await;
    let status = h.send(event).await;
    (status, h.row(&id).await.is_some(), h.queue.take_json())
}

/// Connect events are handled on a fresh harness: the connection does not exist yet.
async fn run_connect(event: Value) -> (i64, Option<bool>, Vec<Value>) {
    let h = Harness::new();
    let id = connection_id(&event);
    let status = h.send(event).await;
    let row = h.row(&id).await.map(|r| r.authenticated);
    (status, row, h.queue.take_json())
}

fn assert_connected(outcome: (i64, Option<bool>, Vec<Value>), id: &str) {
    let (status, row, intents) = outcome;
    assert_eq!(status, 200);
    assert_eq!(row, Some(false), "a pending, unauthenticated row");
    assert_eq!(
        intents,
        vec![json!({"v": 1, "to": format!("connection:{id}"),
                    "_switchboard": {"closeUnauthenticated": true}})]
    );
}

fn assert_disconnected(outcome: (i64, bool, Vec<Value>)) {
    assert_eq!(outcome, (200, false, Vec::new()));
}

fn assert_error_reply(outcome: (i64, bool, Vec<Value>), id: &str, code: &str) {
    let (status, row, intents) = outcome;
    assert_eq!(status, 200);
    assert!(row, "a message never removes the row");
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(intents[0]["to"], json!(format!("connection:{id}")));
    assert_eq!(intents[0]["data"]["action"], "error");
    assert_eq!(intents[0]["data"]["error"], code);
}

#[tokio::test]
async fn every_websocket_fixture_reaches_its_handler() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("ws-"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ws-connect.lambda-rust-runtime.json",
            "ws-connect.powertools-python.json",
            "ws-custom-route-message.powertools-python.json",
            "ws-default-message.aws-lambda-go.json",
            "ws-disconnect.1005.lambda-rust-runtime.json",
            "ws-disconnect.1005.powertools-python.json",
        ],
        "a new fixture needs a case below"
    );

    for name in &names {
        let event = fixture(name);
        let id = connection_id(&event);
        match name.split('.').next().unwrap() {
            "ws-connect" => assert_connected(run_connect(event).await, &id),
            "ws-disconnect" => assert_disconnected(run(event).await),
            // `{"action": "chat", ...}` on a custom route: an action we do not have.
            "ws-custom-route-message" => {
                assert_error_reply(run(event).await, &id, "unknown_action");
            }
            // `{\r\n\t"a": 1\r\n}`: JSON with CRLF and tabs, but no action.
            "ws-default-message" => assert_error_reply(run(event).await, &id, "bad_request"),
            other => panic!("no case for {other}"),
        }
    }
}

#[tokio::test]
async fn sqs_fixtures_sent_here_by_mistake_get_a_400() {
    let h = Harness::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("sqs-") {
            let response = h.handlers.handle(fixture(&name)).await;
            assert_eq!(response.status_code, 400, "{name}");
            seen += 1;
        }
    }
    assert!(seen >= 5, "the SQS fixtures are there");
    assert!(h.queue.take().is_empty());
}

#[tokio::test]
async fn connect_with_null_headers() {
    let mut event = fixture("ws-connect.powertools-python.json");
    event["headers"] = Value::Null;
    event["multiValueHeaders"] = Value::Null;
    assert_connected(run_connect(event).await, "BFHPhfCWIAMCKlQ=");
}

#[tokio::test]
async fn connect_without_headers_keys() {
    let mut event = fixture("ws-connect.lambda-rust-runtime.json");
    let object = event.as_object_mut().unwrap();
    object.remove("headers");
    object.remove("multiValueHeaders");
    object.remove("isBase64Encoded");
    assert_connected(run_connect(event).await, "asdfasdf=");
}

#[tokio::test]
async fn unknown_extra_fields_are_ignored() {
    let mut event = fixture("ws-disconnect.1005.powertools-python.json");
    event["someFieldAwsAddsLater"] = json!({"nested": [1, 2]});
    event["requestContext"]["anotherNewField"] = json!("x");
    event["requestContext"]["identity"]["principalOrgId"] = json!(null);
    assert_disconnected(run(event).await);

    let mut event = fixture("ws-connect.powertools-python.json");
    event["requestContext"]["connectedAt"] = json!("not a number");
    assert_connected(run_connect(event).await, "BFHPhfCWIAMCKlQ=");
}

#[tokio::test]
async fn message_with_null_headers_and_body() {
    let mut event = fixture("ws-default-message.aws-lambda-go.json");
    event["headers"] = Value::Null;
    event["multiValueHeaders"] = Value::Null;
    event["body"] = Value::Null;
    let id = connection_id(&event);
    assert_error_reply(run(event).await, &id, "invalid_json");
}

#[tokio::test]
async fn message_without_a_body_key() {
    let mut event = fixture("ws-custom-route-message.powertools-python.json");
    event.as_object_mut().unwrap().remove("body");
    let id = connection_id(&event);
    assert_error_reply(run(event).await, &id, "invalid_json");
}

#[tokio::test]
async fn message_fixture_with_a_ping_body_gets_a_pong() {
    let mut event = fixture("ws-default-message.aws-lambda-go.json");
    event["body"] = json!("{\r\n\t\"action\": \"ping\", \"id\": 1\r\n}");
    let id = connection_id(&event);
    let (status, _, intents) = run(event).await;
    assert_eq!(status, 200);
    assert_eq!(intents[0]["to"], json!(format!("connection:{id}")));
    assert_eq!(
        intents[0]["data"],
        json!({"action": "pong", "timestamp": "2026-12-03T10:00:00.000Z", "id": 1})
    );
}

#[tokio::test]
async fn disconnect_fixture_with_an_empty_reason() {
    let mut event = fixture("ws-disconnect.1005.lambda-rust-runtime.json");
    event["requestContext"]["disconnectReason"] = json!("");
    event["requestContext"]["disconnectStatusCode"] = json!(1006);
    assert_disconnected(run(event).await);
}
