//! The worker's behaviour scenarios (issue 4, tests), runnable against any store and queue.
//!
//! Each scenario builds its own [`Rig`] on the store and queue it is given, which must be
//! empty, and asserts as it goes. This crate's tests run them on the embedded backends;
//! the contract suite runs the same functions on DynamoDB and SQS (moto), so both
//! backends are held to exactly the same behaviour.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsBatchResponse;
use serde_json::{Value, json};
use switchboard::config::FanoutTuning;
use switchboard::intent::Target;
use switchboard::limits::MAX_MESSAGE_BYTES;
use switchboard::queue::SharedQueue;
use switchboard::store::SharedStore;

use super::api::Answer;
use super::rig::{Rig, deadline};

/// A real SNS notification delivered through SQS, which is not an intent.
const SNS_ENVELOPE: &str =
    include_str!("../../../tests/fixtures/events/sqs-standard.sns-envelope.powertools-ts.json");

/// The `messageId`s a batch response lists, in order.
pub fn failures(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// Tuning for tests: defaults, but a short post timeout.
pub fn test_tuning() -> FanoutTuning {
    FanoutTuning {
        post_timeout: Duration::from_secs(2),
        ..FanoutTuning::default()
    }
}

/// A broadcast to a tenant with one live and one gone connection delivers to the first,
/// deletes the second's row and reports no failure; running it again posts nothing to
/// the gone one.
pub async fn tenant_broadcast_prunes_gone_connection(store: SharedStore, queue: SharedQueue) {
    let rig = Rig::new(store, queue, test_tuning()).await;
    rig.seed([
        rig.live("live-1", "u1", Some("acme")),
        rig.live("gone-1", "u2", Some("acme")),
        rig.live("other-1", "u3", Some("globex")),
    ])
    .await;
    rig.api.script("gone-1", [Answer::Gone]);
    let body = r#"{"to":"tenant:acme","data":{"text":"hi"}}"#;

    let response = rig.publish(body).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(rig.api.delivered_to("live-1"), 1);
    assert_eq!(rig.api.posts_to("gone-1"), 1);
    assert_eq!(
        rig.api.posts_to("other-1"),
        0,
        "another tenant is not posted to"
    );
    assert_eq!(
        rig.store.get("gone-1").await.unwrap(),
        None,
        "gone row pruned"
    );
    assert!(rig.store.get("live-1").await.unwrap().is_some());
    assert!(rig.take_intents().await.is_empty(), "nothing to retry");

    let again = rig.publish(body).await;

    assert_eq!(failures(&again), Vec::<String>::new());
    assert_eq!(
        rig.api.posts_to("gone-1"),
        1,
        "a pruned connection is not posted again"
    );
    assert_eq!(rig.api.delivered_to("live-1"), 2);
}

/// With 30% of posts answered 429 once and some answered 500 or 429 every time, every
/// live connection receives the frame exactly once, the retry intent lists only the ids
/// that kept failing, and no throttled connection is taken as gone.
pub async fn throttled_and_failing_posts_are_delivered_exactly_once(
    store: SharedStore,
    queue: SharedQueue,
) {
    let rig = Rig::new(store, queue, test_tuning()).await;
    let ids: Vec<String> = (0..100).map(|i| format!("busy-{i:03}")).collect();
    rig.seed(ids.iter().map(|id| rig.live(id, "u", Some("busy"))))
        .await;
    let mut keep_failing = BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        match i % 20 {
            0..=5 => rig.api.script(id, [Answer::Throttled, Answer::Ok]),
            6 | 7 => {
                rig.api.script(id, [Answer::ServerError]);
                keep_failing.insert(id.clone());
            }
            8 => {
                rig.api.script(id, [Answer::Throttled]);
                keep_failing.insert(id.clone());
            }
            _ => {}
        }
    }

    let response = rig
        .publish(r#"{"to":"tenant:busy","data":"news","id":"n-1"}"#)
        .await;

    assert_eq!(failures(&response), Vec::<String>::new());
    let follow_ups = rig.take_intents().await;
    assert_eq!(follow_ups.len(), 1, "one retry intent: {follow_ups:?}");
    let retry = &follow_ups[0];
    assert_eq!(retry.to, Target::Tenant("busy".into()));
    assert_eq!(retry.id.as_deref(), Some("n-1"));
    assert_eq!(retry.progress.attempt, 1);
    let listed: BTreeSet<String> = retry.progress.connections.iter().cloned().collect();
    assert_eq!(
        listed, keep_failing,
        "the retry lists exactly the failed ids"
    );
    for id in &keep_failing {
        assert!(
            rig.store.get(id).await.unwrap().is_some(),
            "{id}: a failing connection keeps its row"
        );
    }

    rig.api.heal();
    let retried = rig.publish(&retry.to_body().unwrap()).await;

    assert_eq!(failures(&retried), Vec::<String>::new());
    assert!(
        rig.take_intents().await.is_empty(),
        "nothing left after the retry"
    );
    for id in &ids {
        assert_eq!(
            rig.api.delivered_to(id),
            1,
            "{id} receives the frame exactly once"
        );
    }
}

/// One post held past the per-request timeout does not hold up the other posts or the
/// invocation; only that connection is left for a retry.
pub async fn slow_post_does_not_hold_up_the_others(store: SharedStore, queue: SharedQueue) {
    let tuning = FanoutTuning {
        post_timeout: Duration::from_millis(200),
        ..test_tuning()
    };
    let rig = Rig::new(store, queue, tuning).await;
    let ids: Vec<String> = (0..20).map(|i| format!("slow-{i:02}")).collect();
    rig.seed(ids.iter().map(|id| rig.live(id, "u", Some("slowpoke"))))
        .await;
    rig.api
        .script("slow-07", [Answer::Slow(Duration::from_secs(30))]);

    let started = Instant::now();
    let response = rig.publish(r#"{"to":"tenant:slowpoke","data":1}"#).await;
    let took = started.elapsed();

    assert_eq!(failures(&response), Vec::<String>::new());
    // Three tries of 200 ms each and millisecond pauses; far below the 30 s stall.
    assert!(
        took < Duration::from_secs(3),
        "the invocation took {took:?}"
    );
    for id in ids.iter().filter(|id| *id != "slow-07") {
        assert_eq!(rig.api.delivered_to(id), 1, "{id} delivered");
    }
    assert_eq!(
        rig.api.posts_to("slow-07"),
        3,
        "tried three times, each try cut off by the post timeout"
    );
    let follow_ups = rig.take_intents().await;
    assert_eq!(follow_ups.len(), 1);
    assert_eq!(follow_ups[0].progress.connections, ["slow-07"]);
}

/// In a batch of three records where one is `not json` and one is an SNS envelope, the
/// good one is delivered and exactly the other two are reported failed.
pub async fn bad_records_fail_alone(store: SharedStore, queue: SharedQueue) {
    let rig = Rig::new(store, queue, test_tuning()).await;
    let mut event: Value = serde_json::from_str(SNS_ENVELOPE).expect("fixture is JSON");
    let envelope = event["Records"][0].clone();
    let sns_id = envelope["messageId"].as_str().unwrap().to_owned();
    let mut good = envelope.clone();
    good["messageId"] = json!("good-1");
    good["body"] = json!(r#"{"to":"connection:conn-ok","data":{"ok":true}}"#);
    let mut not_json = envelope.clone();
    not_json["messageId"] = json!("bad-1");
    not_json["body"] = json!("not json");
    event["Records"] = json!([good, not_json, envelope]);

    let response = rig.worker.handle(event, deadline()).await.unwrap();

    assert_eq!(failures(&response), ["bad-1", sns_id.as_str()]);
    assert_eq!(rig.api.delivered_to("conn-ok"), 1);
    assert_eq!(rig.api.calls().len(), 1, "nothing else is posted");
}

/// 2,500 connections in one tenant and 10,000 across the table, read in small pages and
/// several segments over many short invocations: each connection gets each frame once.
pub async fn large_audiences_are_delivered_exactly_once(store: SharedStore, queue: SharedQueue) {
    let tuning = FanoutTuning {
        page_size: 100,
        segments: 4,
        max_per_invocation: 1_000,
        ..test_tuning()
    };
    let rig = Rig::new(store, queue, tuning).await;
    let big: Vec<String> = (0..2_500).map(|i| format!("big-{i:05}")).collect();
    let rest: Vec<String> = (0..7_500).map(|i| format!("rest-{i:05}")).collect();
    rig.seed(
        big.iter()
            .enumerate()
            .map(|(i, id)| rig.live(id, &format!("u{}", i % 300), Some("big"))),
    )
    .await;
    rig.seed(rest.iter().enumerate().map(|(i, id)| {
        let tenant = (i % 3 != 0).then_some("small");
        rig.live(id, &format!("v{}", i % 500), tenant)
    }))
    .await;

    let response = rig.publish(r#"{"to":"tenant:big","data":"to big"}"#).await;
    assert_eq!(failures(&response), Vec::<String>::new());
    let tenant_run = rig.drain().await;

    assert!(tenant_run.failed.is_empty(), "{:?}", tenant_run.failed);
    assert!(
        tenant_run.records >= 2,
        "2,500 over 1,000 per invocation needs continuations, saw {} records",
        tenant_run.records + 1
    );
    let deliveries = rig.api.deliveries();
    assert_eq!(deliveries.len(), big.len(), "only the tenant is reached");
    assert!(big.iter().all(|id| deliveries.get(id) == Some(&1)));

    let response = rig.publish(r#"{"to":"all","data":"to all"}"#).await;
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(
        rig.api.calls().len(),
        big.len(),
        "the split posts nothing itself"
    );
    let broadcast = rig.drain().await;

    assert!(broadcast.failed.is_empty(), "{:?}", broadcast.failed);
    assert!(
        broadcast.records >= 8,
        "every segment is continued at least once"
    );
    let deliveries = rig.api.deliveries();
    assert_eq!(deliveries.len(), big.len() + rest.len());
    assert!(big.iter().all(|id| deliveries.get(id) == Some(&2)));
    assert!(rest.iter().all(|id| deliveries.get(id) == Some(&1)));
}

/// A frame of exactly 131,072 bytes (multi-byte characters) is posted byte for byte; one
/// byte more is refused without a post.
pub async fn frame_at_the_limit_is_posted_and_one_byte_more_is_refused(
    store: SharedStore,
    queue: SharedQueue,
) {
    let rig = Rig::new(store, queue, test_tuning()).await;
    // "é" is two bytes; the quotes make up the rest.
    let text = "é".repeat((MAX_MESSAGE_BYTES - 2) / 2);
    let frame = format!("\"{text}\"");
    assert_eq!(frame.len(), MAX_MESSAGE_BYTES);

    let fits = rig
        .publish(&format!(r#"{{"to":"connection:wide","data":{frame}}}"#))
        .await;

    assert_eq!(failures(&fits), Vec::<String>::new());
    let calls = rig.api.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body, frame.as_bytes(), "posted byte for byte");

    let over = rig
        .publish(&format!(r#"{{"to":"connection:wide","data":"{text}x"}}"#))
        .await;

    assert_eq!(failures(&over), ["m0"]);
    assert_eq!(
        rig.api.calls().len(),
        1,
        "nothing posted for the oversized frame"
    );
}
