//! The Management API client on the wire: the real SDK against a loopback server.

use std::time::{Duration, Instant};

use switchboard_fanout::testing::{Answer, FakeManagementApi, sdk_config};
use switchboard_fanout::{ManagementPoster, PostOutcome, Poster};

const TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn post_keeps_the_stage_and_encodes_equals_once() {
    let api = FakeManagementApi::start("prod").await;
    let poster = api.poster(TIMEOUT).await;

    let outcome = poster.post("L0SM9cOFvHcCIhw=", br#"{"text":"hi"}"#).await;

    assert_eq!(outcome, PostOutcome::Delivered);
    let calls = api.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].path, "/prod/@connections/L0SM9cOFvHcCIhw%3D");
    assert_eq!(calls[0].connection_id, "L0SM9cOFvHcCIhw=");
    assert_eq!(calls[0].body, br#"{"text":"hi"}"#);
}

#[tokio::test]
async fn delete_uses_the_same_path() {
    let api = FakeManagementApi::start("prod").await;
    let poster = api.poster(TIMEOUT).await;

    assert_eq!(poster.delete("Ab+c/d==").await, PostOutcome::Delivered);

    let calls = api.calls();
    assert_eq!(calls[0].method, "DELETE");
    assert_eq!(calls[0].path, "/prod/@connections/Ab%2Bc%2Fd%3D%3D");
    assert_eq!(api.deleted(), ["Ab+c/d=="]);
}

#[tokio::test]
async fn trailing_slash_on_the_endpoint_changes_nothing() {
    let api = FakeManagementApi::start("prod").await;
    let sdk = sdk_config().await;
    let poster = ManagementPoster::new(&sdk, &format!("{}/", api.endpoint()), TIMEOUT);

    assert_eq!(poster.post("c1", b"1").await, PostOutcome::Delivered);

    assert_eq!(api.calls()[0].path, "/prod/@connections/c1");
}

#[tokio::test]
async fn answers_map_to_outcomes() {
    let api = FakeManagementApi::start("prod").await;
    let poster = api.poster(TIMEOUT).await;
    let cases = [
        ("gone", Answer::Gone, PostOutcome::Gone),
        ("throttled", Answer::Throttled, PostOutcome::Throttled),
        ("forbidden", Answer::Forbidden, PostOutcome::Forbidden),
        ("large", Answer::TooLarge, PostOutcome::PayloadTooLarge),
        ("ok", Answer::Ok, PostOutcome::Delivered),
    ];
    for (id, answer, expected) in cases {
        api.script(id, [answer]);
        assert_eq!(poster.post(id, b"x").await, expected, "{id}");
    }
    api.script("bad-id", [Answer::BadRequest]);
    let outcome = poster.post("bad-id", b"x").await;
    assert!(
        matches!(&outcome, PostOutcome::Refused(reason) if reason.contains("BadRequest")),
        "{outcome:?}"
    );
    assert!(!outcome.is_retryable());
    api.script("broken", [Answer::ServerError]);
    let outcome = poster.post("broken", b"x").await;
    assert!(
        matches!(&outcome, PostOutcome::Failed(reason) if reason.contains("500")),
        "{outcome:?}"
    );
    assert!(outcome.is_retryable());
    assert!(!PostOutcome::Gone.is_retryable());
}

#[tokio::test]
async fn sdk_does_not_retry_on_its_own() {
    let api = FakeManagementApi::start("prod").await;
    let poster = api.poster(TIMEOUT).await;
    api.script("broken", [Answer::ServerError]);
    api.script("busy", [Answer::Throttled]);

    poster.post("broken", b"x").await;
    poster.post("busy", b"x").await;

    assert_eq!(api.posts_to("broken"), 1);
    assert_eq!(api.posts_to("busy"), 1);
}

#[tokio::test]
async fn slow_answer_fails_after_the_timeout() {
    let api = FakeManagementApi::start("prod").await;
    let poster = api.poster(Duration::from_millis(150)).await;
    api.script("slow", [Answer::Slow(Duration::from_secs(30))]);

    let started = Instant::now();
    let outcome = poster.post("slow", b"x").await;

    assert!(matches!(outcome, PostOutcome::Failed(_)), "{outcome:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn wrong_stage_is_forbidden() {
    let api = FakeManagementApi::start("prod").await;
    let sdk = sdk_config().await;
    let endpoint = api.endpoint().replace("/prod", "/dev");
    let poster = ManagementPoster::new(&sdk, &endpoint, TIMEOUT);

    assert_eq!(poster.post("c1", b"x").await, PostOutcome::Forbidden);

    assert_eq!(api.calls()[0].path, "/dev/@connections/c1");
}

#[tokio::test]
async fn posts_reuse_one_kept_alive_connection() {
    let api = FakeManagementApi::start("prod").await;
    let poster = api.poster(TIMEOUT).await;

    for i in 0..5 {
        assert_eq!(
            poster.post(&format!("c{i}"), b"x").await,
            PostOutcome::Delivered
        );
    }

    let peers: std::collections::BTreeSet<_> = api.calls().iter().map(|c| c.peer).collect();
    assert_eq!(
        peers.len(),
        1,
        "one TCP connection for sequential posts: {peers:?}"
    );
}
