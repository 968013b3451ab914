//! Close intents: the auth deadline closes connections that did not authenticate in time.

use switchboard::connection::Connection;
use switchboard::intent::Intent;
use switchboard_fanout::testing::scenarios::{failures, test_tuning};
use switchboard_fanout::testing::{Answer, Rig};

fn close(id: &str) -> String {
    Intent::close_if_unauthenticated(id).to_body().unwrap()
}

fn pending(rig: &Rig, id: &str) -> Connection {
    let now = rig.clock.now_secs();
    Connection::pending(id, rig.clock.now_millis(), now + 30)
}

#[tokio::test]
async fn unauthenticated_connection_is_closed_and_its_row_removed() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([pending(&rig, "p1")]).await;

    let response = rig.publish(&close("p1")).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(rig.api.deleted(), ["p1"]);
    assert_eq!(rig.api.calls()[0].path, "/test/@connections/p1");
    assert_eq!(rig.store.get("p1").await.unwrap(), None);
}

#[tokio::test]
async fn authenticated_connection_is_left_open() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([rig.live("a1", "u1", None)]).await;

    let response = rig.publish(&close("a1")).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert!(rig.api.calls().is_empty(), "nothing sent to API Gateway");
    assert!(rig.store.get("a1").await.unwrap().is_some());
}

#[tokio::test]
async fn connection_without_a_live_row_is_closed_too() {
    let rig = Rig::embedded(test_tuning()).await;

    let response = rig.publish(&close("ghost")).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(rig.api.deleted(), ["ghost"]);
}

#[tokio::test]
async fn already_gone_connection_counts_as_closed() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([pending(&rig, "p1")]).await;
    rig.api.script("p1", [Answer::Gone]);

    let response = rig.publish(&close("p1")).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(rig.store.get("p1").await.unwrap(), None);
}

#[tokio::test]
async fn failing_close_fails_the_record_and_keeps_the_row() {
    let rig = Rig::embedded(test_tuning()).await;
    rig.seed([pending(&rig, "p1")]).await;
    rig.api.script("p1", [Answer::ServerError]);

    let response = rig.publish(&close("p1")).await;

    assert_eq!(failures(&response), ["m0"], "SQS delivers the close again");
    assert_eq!(rig.api.deleted().len(), 3, "tried within the retry budget");
    assert!(rig.store.get("p1").await.unwrap().is_some());
}

#[tokio::test]
async fn close_intent_for_an_audience_is_refused() {
    let rig = Rig::embedded(test_tuning()).await;
    let body = r#"{"to":"user:u1","_switchboard":{"closeUnauthenticated":true}}"#;

    let response = rig.publish(body).await;

    assert_eq!(failures(&response), ["m0"]);
    assert!(rig.api.calls().is_empty());
}
