//! What each Management API answer does to a record, and the batch response on the wire.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsBatchResponse;
use serde_json::json;
use switchboard::config::FanoutTuning;
use switchboard::intent::{Intent, Target};
use switchboard::queue::{
    EntryError, IntentQueue, MemoryQueue, MemoryQueueConfig, Outgoing, QueueError, Received,
};
use switchboard::store::MemoryStore;
use switchboard_fanout::testing::scenarios::{failures, test_tuning};
use switchboard_fanout::testing::{Answer, Rig, deadline, event, message};

const BATCH_RESPONSE_FIXTURE: &str =
    include_str!("../../tests/fixtures/events/sqs-batch-response.aws-docs.json");

#[test]
fn batch_response_wire_json_is_pinned() {
    let mut response = SqsBatchResponse::default();
    response.add_failure("id2");
    response.add_failure("id4");

    let text = serde_json::to_string(&response).unwrap();

    assert_eq!(
        text,
        r#"{"batchItemFailures":[{"itemIdentifier":"id2"},{"itemIdentifier":"id4"}]}"#
    );
    let fixture: serde_json::Value = serde_json::from_str(BATCH_RESPONSE_FIXTURE).unwrap();
    assert_eq!(serde_json::to_value(&response).unwrap(), fixture);
    assert_eq!(
        serde_json::to_string(&SqsBatchResponse::default()).unwrap(),
        r#"{"batchItemFailures":[]}"#
    );
}

#[tokio::test]
async fn forbidden_fails_the_record_and_prunes_nothing() {
    let rig = Rig::embedded(FanoutTuning {
        concurrency: 1,
        ..test_tuning()
    })
    .await;
    rig.seed((0..3).map(|i| rig.live(&format!("f{i}"), "u", Some("acme"))))
        .await;
    rig.api.answer_all(Answer::Forbidden);

    let response = rig.publish(r#"{"to":"tenant:acme","data":1}"#).await;

    assert_eq!(failures(&response), ["m0"]);
    assert_eq!(rig.api.calls().len(), 1, "the first 403 halts the record");
    for i in 0..3 {
        let id = format!("f{i}");
        assert!(rig.store.get(&id).await.unwrap().is_some(), "{id} kept");
    }
    assert!(
        rig.take_intents().await.is_empty(),
        "no retry of a config fault"
    );
}

#[tokio::test]
async fn payload_too_large_is_poison_without_a_retry() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.api.script("c1", [Answer::TooLarge]);

    let response = rig.publish(r#"{"to":"connection:c1","data":"big"}"#).await;

    assert_eq!(failures(&response), ["m0"]);
    assert_eq!(
        rig.api.posts_to("c1"),
        1,
        "not retried within the invocation"
    );
    assert!(rig.take_intents().await.is_empty(), "no retry intent");
}

#[tokio::test]
async fn throttled_connection_target_is_retried_and_never_pruned() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([rig.live("c1", "u", None)]).await;
    rig.api.script("c1", [Answer::Throttled]);

    let response = rig.publish(r#"{"to":"connection:c1","data":1}"#).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(rig.api.posts_to("c1"), 3, "one try and two retries");
    assert!(
        rig.store.get("c1").await.unwrap().is_some(),
        "429 is not gone"
    );
    let retry = rig.take_intents().await;
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].to, Target::Connection("c1".into()));
    assert_eq!(retry[0].progress.connections, ["c1"]);
    assert_eq!(retry[0].progress.attempt, 1);
}

#[tokio::test]
async fn refused_post_is_neither_retried_nor_pruned_and_spares_the_others() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([
        rig.live("bad", "u", Some("acme")),
        rig.live("good", "u", Some("acme")),
    ])
    .await;
    rig.api.script("bad", [Answer::BadRequest]);

    let response = rig.publish(r#"{"to":"tenant:acme","data":1}"#).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(rig.api.posts_to("bad"), 1, "a 400 is not retried");
    assert_eq!(rig.api.delivered_to("good"), 1);
    assert!(
        rig.store.get("bad").await.unwrap().is_some(),
        "400 is not gone"
    );
    assert!(rig.take_intents().await.is_empty(), "no retry intent");
}

#[tokio::test]
async fn retry_at_the_last_attempt_is_posted_and_beyond_it_is_dead_lettered() {
    let rig = Rig::embedded(test_tuning()).await;
    let mut intent = Intent::parse(r#"{"to":"connection:c1","data":1}"#).unwrap();
    intent.progress.connections = vec!["c1".into()];
    intent.progress.attempt = 4;
    rig.api.script("c1", [Answer::ServerError]);

    let last = rig.publish(&intent.to_body().unwrap()).await;

    assert_eq!(failures(&last), Vec::<String>::new());
    assert_eq!(rig.api.posts_to("c1"), 3);
    let next = rig.take_intents().await;
    assert_eq!(next[0].progress.attempt, 5);

    let exhausted = rig.publish(&next[0].to_body().unwrap()).await;

    assert_eq!(failures(&exhausted), ["m0"], "left to the queue's redrive");
    assert_eq!(rig.api.posts_to("c1"), 3, "not posted again");
    assert!(rig.take_intents().await.is_empty());
}

#[tokio::test]
async fn exhausted_intent_reaches_the_dead_letter_queue_through_the_redrive() {
    let dead_letters = MemoryQueue::new(MemoryQueueConfig::default());
    let config = MemoryQueueConfig {
        visibility_timeout: Duration::ZERO,
        max_receive_count: 3,
    };
    let queue = MemoryQueue::with_dead_letters(config, dead_letters.clone());
    let rig = Rig::new(Arc::new(MemoryStore::new()), queue.clone(), test_tuning()).await;
    let mut intent = Intent::parse(r#"{"to":"tenant:acme","data":1}"#).unwrap();
    intent.progress.connections = vec!["c1".into()];
    intent.progress.attempt = 5;
    let body = intent.to_body().unwrap();
    queue.send(Outgoing::now(body.clone())).await.unwrap();

    // Lambda's loop: failed records are left for SQS to deliver again.
    for _ in 0..10 {
        let received = queue.receive(10, Duration::ZERO).await.unwrap();
        let records = received
            .iter()
            .map(|r| message(&r.message_id, &r.body, r.receive_count))
            .collect();
        rig.worker.process(event(records), deadline()).await;
    }

    assert!(queue.is_empty());
    assert_eq!(dead_letters.bodies(), [body]);
    assert!(rig.api.calls().is_empty(), "never posted");
}

#[tokio::test]
async fn follow_ups_the_queue_refuses_fail_the_record() {
    let queue = Arc::new(RefusingQueue);
    let rig = Rig::new(Arc::new(MemoryStore::new()), queue, test_tuning()).await;

    let split = rig.publish(r#"{"to":"all","data":1}"#).await;

    assert_eq!(
        failures(&split),
        ["m0"],
        "segments lost would be deliveries lost"
    );
}

#[tokio::test]
async fn unreadable_records_are_named_and_the_rest_processed() {
    let rig = Rig::embedded(test_tuning()).await;
    let payload = json!({"Records": [
        {"messageId": "fine", "body": r#"{"to":"connection:c1","data":1}"#},
        {"messageId": "odd", "body": {"not": "a string"}}
    ]});

    let response = rig.worker.handle(payload, deadline()).await.unwrap();

    assert_eq!(failures(&response), ["odd"]);
    assert_eq!(rig.api.delivered_to("c1"), 1);
    assert!(rig.worker.handle(json!({}), deadline()).await.is_err());
}

#[tokio::test]
async fn intents_of_every_refused_shape_fail_alone() {
    let rig = Rig::embedded(test_tuning()).await;
    let bodies = [
        r#"{"to":"room:1","data":1}"#,
        r#"{"to":"all"}"#,
        r#"{"to":"all","data":1,"tenant":"t"}"#,
        r#"{"v":2,"to":"all","data":1}"#,
        r#"{"to":"connection:ok","data":1}"#,
    ];

    let response = rig.run(&bodies).await;

    assert_eq!(failures(&response), ["m0", "m1", "m2", "m3"]);
    assert_eq!(rig.api.delivered_to("ok"), 1);
}

#[tokio::test]
async fn record_without_a_body_fails() {
    let rig = Rig::embedded(test_tuning()).await;
    let mut record = message("empty", "", 1);
    record.body = None;

    let response = rig.worker.process(event(vec![record]), deadline()).await;

    assert_eq!(failures(&response), ["empty"]);
}

/// A queue that refuses every message, as SQS does a body over its limit.
struct RefusingQueue;

#[async_trait]
impl IntentQueue for RefusingQueue {
    async fn send(&self, _message: Outgoing) -> Result<String, QueueError> {
        Err(QueueError::Rejected(refusal()))
    }

    async fn send_batch(
        &self,
        messages: &[Outgoing],
    ) -> Result<Vec<Result<String, EntryError>>, QueueError> {
        Ok(messages.iter().map(|_| Err(refusal())).collect())
    }

    async fn receive(&self, _max: usize, _wait: Duration) -> Result<Vec<Received>, QueueError> {
        Ok(Vec::new())
    }

    async fn delete(&self, _receipt_handle: &str) -> Result<(), QueueError> {
        Ok(())
    }
}

fn refusal() -> EntryError {
    EntryError {
        code: "InvalidParameterValue".into(),
        message: "refused".into(),
    }
}

#[tokio::test]
async fn worker_futures_can_be_spawned() {
    let rig = Arc::new(Rig::embedded(test_tuning()).await);
    let payload = json!({"Records": [
        {"messageId": "m", "body": r#"{"to":"connection:c1","data":1}"#}
    ]});

    let handled = tokio::spawn({
        let rig = rig.clone();
        async move { rig.worker.handle(payload, deadline()).await }
    });
    let processed = tokio::spawn({
        let rig = rig.clone();
        async move {
            let record = message("m", r#"{"to":"connection:c1","data":1}"#, 1);
            rig.worker.process(event(vec![record]), deadline()).await
        }
    });

    assert_eq!(
        failures(&handled.await.unwrap().unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(failures(&processed.await.unwrap()), Vec::<String>::new());
    assert_eq!(rig.api.delivered_to("c1"), 2);
}
