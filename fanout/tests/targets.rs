//! Target resolution: who an intent reaches, and how large audiences are cut up.

use std::collections::BTreeSet;

use switchboard::config::FanoutTuning;
use switchboard::connection::Connection;
use switchboard::intent::{Intent, Segment, Target};
use switchboard_fanout::testing::Rig;
use switchboard_fanout::testing::scenarios::{failures, test_tuning};

fn pending(rig: &Rig, id: &str) -> Connection {
    let now = rig.clock.now_secs();
    Connection::pending(id, rig.clock.now_millis(), now + 30)
}

fn posted(rig: &Rig) -> BTreeSet<String> {
    rig.api.deliveries().into_keys().collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

#[tokio::test]
async fn connection_target_is_posted_without_a_store_row() {
    let rig = Rig::embedded(test_tuning()).await;

    let response = rig
        .publish(r#"{"to":"connection:anon-1","data":{"action":"error"}}"#)
        .await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(rig.api.calls()[0].body, br#"{"action":"error"}"#);
}

#[tokio::test]
async fn connection_target_reaches_an_unauthenticated_connection() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([pending(&rig, "p1")]).await;

    rig.publish(r#"{"to":"connection:p1","data":{"action":"auth"}}"#)
        .await;

    assert_eq!(rig.api.delivered_to("p1"), 1);
}

#[tokio::test]
async fn gone_connection_target_prunes_its_row() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([pending(&rig, "p1")]).await;
    rig.api
        .script("p1", [switchboard_fanout::testing::Answer::Gone]);

    let response = rig.publish(r#"{"to":"connection:p1","data":1}"#).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(rig.store.get("p1").await.unwrap(), None);
}

#[tokio::test]
async fn only_deliverable_connections_of_an_audience_are_posted() {
    let rig = Rig::embedded(test_tuning()).await;
    let now = rig.clock.now_secs();
    let mut expired = rig.live("expired", "u1", Some("acme"));
    expired.ttl = now - 1;
    let mut token_expired = rig.live("token-expired", "u1", Some("acme"));
    token_expired.token_expires_at = Some(now);
    let mut unauthenticated = pending(&rig, "pending");
    unauthenticated.tenant_id = Some("acme".into());
    rig.seed([
        rig.live("live", "u1", Some("acme")),
        expired,
        token_expired,
        unauthenticated,
    ])
    .await;

    rig.publish(r#"{"to":"tenant:acme","data":1}"#).await;
    rig.publish(r#"{"to":"user:u1","data":1}"#).await;
    rig.publish(r#"{"to":"all","data":1}"#).await;
    rig.drain().await;

    assert_eq!(posted(&rig), set(&["live"]));
    assert_eq!(rig.api.delivered_to("live"), 3);
}

#[tokio::test]
async fn excluded_connections_are_skipped() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed(["a", "b", "c"].map(|id| rig.live(id, "u", Some("acme"))))
        .await;

    rig.publish(r#"{"to":"tenant:acme","data":1,"exclude":["b"]}"#)
        .await;
    rig.publish(r#"{"to":"connection:c","data":1,"exclude":["c"]}"#)
        .await;

    assert_eq!(rig.api.deliveries().get("a"), Some(&1));
    assert_eq!(rig.api.deliveries().get("b"), None);
    assert_eq!(rig.api.deliveries().get("c"), Some(&1));
}

#[tokio::test]
async fn user_target_can_be_limited_to_one_tenant() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([
        rig.live("u1-acme", "u1", Some("acme")),
        rig.live("u1-globex", "u1", Some("globex")),
        rig.live("u1-none", "u1", None),
        rig.live("u2-acme", "u2", Some("acme")),
    ])
    .await;

    rig.publish(r#"{"to":"user:u1","tenant":"acme","data":1}"#)
        .await;

    assert_eq!(posted(&rig), set(&["u1-acme"]));

    rig.publish(r#"{"to":"user:u1","data":1}"#).await;

    assert_eq!(posted(&rig), set(&["u1-acme", "u1-globex", "u1-none"]));
}

#[tokio::test]
async fn retry_list_skips_connections_no_longer_deliverable() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([
        rig.live("a", "u", Some("acme")),
        rig.live("b", "u", Some("acme")),
    ])
    .await;
    rig.store.remove("b").await.unwrap();
    let mut retry = Intent::parse(r#"{"to":"tenant:acme","data":1}"#).unwrap();
    retry.progress.connections = vec!["a".into(), "b".into(), "never".into()];
    retry.progress.attempt = 1;

    let response = rig.publish(&retry.to_body().unwrap()).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(posted(&rig), set(&["a"]));
}

#[tokio::test]
async fn connection_retry_is_posted_without_a_lookup() {
    let rig = Rig::embedded(test_tuning()).await;
    let mut retry = Intent::parse(r#"{"to":"connection:anon","data":1}"#).unwrap();
    retry.progress.connections = vec!["anon".into()];
    retry.progress.attempt = 2;

    rig.publish(&retry.to_body().unwrap()).await;

    assert_eq!(posted(&rig), set(&["anon"]));
}

#[tokio::test]
async fn broadcast_to_everyone_is_split_into_segment_intents() {
    let rig = Rig::embedded(FanoutTuning {
        segments: 3,
        ..test_tuning()
    })
    .await;
    rig.seed([rig.live("a", "u", None)]).await;

    let response = rig
        .publish(r#"{"to":"all","data":{"x":1},"id":"b-1"}"#)
        .await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert!(rig.api.calls().is_empty(), "the split itself posts nothing");
    let parts = rig.take_intents().await;
    let segments: Vec<Option<Segment>> = parts.iter().map(|p| p.progress.segment).collect();
    assert_eq!(
        segments,
        (0..3)
            .map(|index| Some(Segment { index, total: 3 }))
            .collect::<Vec<_>>()
    );
    for part in &parts {
        assert_eq!(part.to, Target::All);
        assert_eq!(part.frame(), Some(r#"{"x":1}"#));
        assert_eq!(part.id.as_deref(), Some("b-1"));
    }
}

#[tokio::test]
async fn dead_rows_count_toward_the_invocation_limit() {
    let rig = Rig::embedded(FanoutTuning {
        page_size: 10,
        max_per_invocation: 25,
        ..test_tuning()
    })
    .await;
    // Forty expired rows first, in the store's order (by id), then five live ones.
    let now = rig.clock.now_secs();
    let expired = (0..40).map(|i| {
        let mut row = rig.live(&format!("c{i:02}"), "u", Some("acme"));
        row.ttl = now - 1;
        row
    });
    rig.seed(expired).await;
    let live: Vec<String> = (40..45).map(|i| format!("c{i:02}")).collect();
    rig.seed(live.iter().map(|id| rig.live(id, "u", Some("acme"))))
        .await;

    let response = rig.publish(r#"{"to":"tenant:acme","data":1}"#).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert!(
        rig.api.calls().is_empty(),
        "two pages of dead rows, then the limit"
    );
    let rest = rig.take_intents().await;
    assert_eq!(rest.len(), 1);
    assert!(rest[0].progress.cursor.is_some());

    rig.publish(&rest[0].to_body().unwrap()).await;
    rig.drain().await;
    let deliveries = rig.api.deliveries();
    let mut delivered: Vec<String> = deliveries.keys().cloned().collect();
    delivered.sort();
    assert_eq!(delivered, live);
    assert!(deliveries.values().all(|n| *n == 1), "{deliveries:?}");
}

#[tokio::test]
async fn audience_beyond_the_invocation_limit_continues_from_a_cursor() {
    let rig = Rig::embedded(FanoutTuning {
        page_size: 10,
        max_per_invocation: 25,
        ..test_tuning()
    })
    .await;
    let ids: Vec<String> = (0..60).map(|i| format!("c{i:02}")).collect();
    rig.seed(ids.iter().map(|id| rig.live(id, "u", Some("acme"))))
        .await;

    let response = rig.publish(r#"{"to":"tenant:acme","data":1}"#).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(
        rig.api.calls().len(),
        20,
        "two whole pages; a third would pass 25"
    );
    let rest = rig.take_intents().await;
    assert_eq!(rest.len(), 1);
    assert!(rest[0].progress.cursor.is_some());
    assert!(rest[0].progress.connections.is_empty());

    rig.publish(&rest[0].to_body().unwrap()).await;
    rig.drain().await;

    let deliveries = rig.api.deliveries();
    assert_eq!(deliveries.len(), 60);
    assert!(deliveries.values().all(|n| *n == 1), "{deliveries:?}");
}
