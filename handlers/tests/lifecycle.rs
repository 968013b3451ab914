//! `$connect` and `$disconnect`: the rows written and the deadline intent enqueued.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{
    Harness, START, START_MS, claims, connect_event, disconnect_event, message_event, token,
};
use switchboard::config::SessionConfig;
use switchboard::connection::Connection;
use switchboard::intent::Intent;

#[tokio::test]
async fn connect_saves_a_pending_row_and_schedules_the_deadline() {
    let h = Harness::new();
    assert_eq!(h.send(connect_event("c1")).await, 200);

    assert_eq!(
        h.row("c1").await,
        Some(Connection::pending("c1", START_MS - 1000, START + 30))
    );
    let sent = h.queue.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body,
        r#"{"v":1,"to":"connection:c1","_switchboard":{"closeUnauthenticated":true}}"#
    );
    assert_eq!(
        sent[0].body,
        Intent::close_if_unauthenticated("c1").to_body().unwrap()
    );
    assert_eq!(sent[0].delay, Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn connect_uses_the_configured_auth_timeout_and_caps_the_delay_at_sqs_maximum() {
    let h = Harness::with_session(SessionConfig {
        auth_timeout: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(600),
    });
    assert_eq!(h.send(connect_event("c1")).await, 200);
    assert_eq!(h.row("c1").await.unwrap().ttl, START + 3600);
    assert_eq!(h.queue.take()[0].delay, Some(Duration::from_secs(900)));
}

#[tokio::test]
async fn connect_never_reads_credentials_from_the_url() {
    let h = Harness::new();
    let mut event = connect_event("c1");
    let valid = token(&claims("u1", json!({})));
    event["queryStringParameters"] = json!({ "token": valid });
    event["multiValueQueryStringParameters"] = json!({ "token": [valid] });
    event["headers"]["Authorization"] = json!(format!("Bearer {valid}"));
    assert_eq!(h.send(event).await, 200);

    let row = h.row("c1").await.unwrap();
    assert!(!row.authenticated);
    assert_eq!(row.user_id, None);
}

#[tokio::test]
async fn connect_store_failure_is_a_500_and_leaves_no_row() {
    let h = Harness::new();
    h.store.fail("save_pending");
    let response = h.handlers.handle(connect_event("c1")).await;
    assert_eq!(response.status_code, 500);
    assert_eq!(h.row("c1").await, None);
    assert!(
        h.queue.take().is_empty(),
        "no deadline for a refused connection"
    );
}

#[tokio::test]
async fn connect_enqueue_failure_is_a_500_and_removes_the_row() {
    let h = Harness::new();
    h.queue.fail(true);
    assert_eq!(h.send(connect_event("c1")).await, 500);
    assert_eq!(h.row("c1").await, None);
}

#[tokio::test]
async fn connect_without_timestamps_uses_the_clock() {
    let h = Harness::new();
    let mut event = connect_event("c1");
    let context = event["requestContext"].as_object_mut().unwrap();
    context.remove("connectedAt");
    context.remove("requestTimeEpoch");
    assert_eq!(h.send(event).await, 200);
    assert_eq!(h.row("c1").await.unwrap().connected_at, START_MS);
}

#[tokio::test]
async fn disconnect_removes_the_row_and_is_idempotent() {
    let h = Harness::new();
    h.open("c1").await;
    assert_eq!(h.send(disconnect_event("c1")).await, 200);
    assert_eq!(h.row("c1").await, None);
    assert_eq!(h.send(disconnect_event("c1")).await, 200);
    assert_eq!(h.send(disconnect_event("never-seen")).await, 200);
    assert!(h.queue.take().is_empty(), "disconnect enqueues nothing");
}

#[tokio::test]
async fn late_disconnect_removes_only_its_own_connection() {
    let h = Harness::new();
    h.open_as("old", claims("u1", json!({}))).await;
    h.open_as("new", claims("u1", json!({}))).await;

    assert_eq!(h.send(disconnect_event("old")).await, 200);
    assert_eq!(h.row("old").await, None);
    let new = h.row("new").await.unwrap();
    assert!(new.authenticated);
    assert_eq!(new.user_id.as_deref(), Some("u1"));
}

#[tokio::test]
async fn disconnect_store_failure_is_a_500() {
    let h = Harness::new();
    h.open("c1").await;
    h.store.fail("remove");
    assert_eq!(h.send(disconnect_event("c1")).await, 500);
}

#[tokio::test]
async fn events_without_a_connection_get_a_400() {
    let h = Harness::new();
    let mut no_id = message_event("c1", "{}");
    no_id["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("connectionId");
    for event in [json!({}), json!(null), json!([1, 2]), no_id] {
        let response = h.handlers.handle(event).await;
        assert_eq!(response.status_code, 400);
    }
    assert!(h.queue.take().is_empty());
}
