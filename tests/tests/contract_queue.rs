//! The intent queue contract, run against every backend (embedded, and SQS on moto).
//!
//! Visibility timeouts here are one second, the smallest SQS accepts, so the few cases
//! that wait for one take about a second of wall time on both backends.

use std::collections::BTreeSet;
use std::time::Duration;

use switchboard::limits::MAX_QUEUE_MESSAGE_BYTES;
use switchboard::provision::QueueSettings;
use switchboard::queue::{IntentQueue, Outgoing, Received};
use switchboard_tests::{Backend, per_backend};

per_backend! {
    sent_message_is_received_once_and_deleted,
    send_many_batches_and_reports_each_entry,
    [SHORT] undeleted_message_returns_after_the_visibility_timeout,
    [SHORT] message_is_dead_lettered_after_the_maximum_receive_count,
    delayed_message_stays_hidden_for_its_delay,
}

const SHORT: QueueSettings = QueueSettings {
    visibility_timeout: Duration::from_secs(1),
    max_receive_count: 2,
};

/// Receives until `want` messages arrived or `patience` passed.
async fn receive_n(queue: &dyn IntentQueue, want: usize, patience: Duration) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut got = Vec::new();
    while got.len() < want && tokio::time::Instant::now() < deadline {
        got.extend(queue.receive(10, Duration::from_secs(1)).await.unwrap());
    }
    got
}

async fn sent_message_is_received_once_and_deleted(b: Backend) {
    let queue = b.queue.as_ref();
    let id = queue
        .send(Outgoing::now(r#"{"to":"all","data":1}"#))
        .await
        .unwrap();
    let got = receive_n(queue, 1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{}", b.name);
    assert_eq!(got[0].message_id, id, "{}", b.name);
    assert_eq!(got[0].body, r#"{"to":"all","data":1}"#, "{}", b.name);
    assert_eq!(got[0].receive_count, 1, "{}", b.name);
    queue.delete(&got[0].receipt_handle).await.unwrap();
    let again = queue.receive(10, Duration::from_secs(1)).await.unwrap();
    assert!(again.is_empty(), "{}: deleted message came back", b.name);
}

async fn send_many_batches_and_reports_each_entry(b: Backend) {
    let queue = b.queue.as_ref();
    let mut messages: Vec<Outgoing> = (0..23).map(|i| Outgoing::now(format!("m{i}"))).collect();
    messages.insert(5, Outgoing::now("x".repeat(MAX_QUEUE_MESSAGE_BYTES + 1)));
    let results = queue.send_many(&messages).await;

    assert_eq!(results.len(), 24, "{}", b.name);
    assert!(results[5].is_err(), "{}: oversized entry accepted", b.name);
    let sent = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        sent,
        23,
        "{}: {:?}",
        b.name,
        results.iter().filter(|r| r.is_err()).collect::<Vec<_>>()
    );

    let got = receive_n(queue, 23, Duration::from_secs(10)).await;
    let bodies: BTreeSet<String> = got.into_iter().map(|m| m.body).collect();
    let expected: BTreeSet<String> = (0..23).map(|i| format!("m{i}")).collect();
    assert_eq!(bodies, expected, "{}", b.name);
}

async fn undeleted_message_returns_after_the_visibility_timeout(b: Backend) {
    let queue = b.queue.as_ref();
    for body in ["keep", "done-1", "done-2"] {
        queue.send(Outgoing::now(body)).await.unwrap();
    }
    let first = receive_n(queue, 3, Duration::from_secs(5)).await;
    assert_eq!(first.len(), 3, "{}", b.name);
    // A partial batch failure: the worker deletes what succeeded and leaves the rest.
    for m in first.iter().filter(|m| m.body != "keep") {
        queue.delete(&m.receipt_handle).await.unwrap();
    }
    assert!(
        queue.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "{}",
        b.name
    );

    let again = receive_n(queue, 1, Duration::from_secs(5)).await;
    assert_eq!(again.len(), 1, "{}", b.name);
    assert_eq!(again[0].body, "keep", "{}", b.name);
    assert_eq!(again[0].receive_count, 2, "{}", b.name);
}

async fn message_is_dead_lettered_after_the_maximum_receive_count(b: Backend) {
    let queue = b.queue.as_ref();
    queue.send(Outgoing::now("poison")).await.unwrap();

    let mut receives = 0;
    let mut dead = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while dead.is_empty() && tokio::time::Instant::now() < deadline {
        receives += queue
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .len();
        dead = b.dead_letters.receive(10, Duration::ZERO).await.unwrap();
    }

    let bodies: Vec<&str> = dead.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["poison"], "{}", b.name);
    assert_eq!(receives, 2, "{}: receives before dead-lettering", b.name);
    assert!(
        queue
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "{}",
        b.name
    );
}

async fn delayed_message_stays_hidden_for_its_delay(b: Backend) {
    let queue = b.queue.as_ref();
    queue
        .send(Outgoing::delayed("later", Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(
        queue.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "{}",
        b.name
    );
    let got = receive_n(queue, 1, Duration::from_secs(6)).await;
    assert_eq!(got.len(), 1, "{}", b.name);
    assert_eq!(got[0].body, "later", "{}", b.name);
}
