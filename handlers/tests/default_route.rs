//! `$default`: every request and reply of the client protocol, as the exact intents
//! enqueued and the records written.

mod support;

use serde_json::{Value, json};
use support::{Harness, START, START_MS, claims, identity, message_event, token};
use switchboard::limits::MAX_MESSAGE_BYTES;
use switchboard::protocol::{RawJson, Reply};

fn auth(token: &str) -> String {
    json!({"action": "auth", "token": token}).to_string()
}

// ---- auth ----------------------------------------------------------------------------

#[tokio::test]
async fn auth_records_the_identity_and_replies_success() {
    let h = Harness::new();
    h.open("c1").await;
    let jwt = token(&claims(
        "u1",
        json!({"email": "u1@example.test", "tenant_id": "acme"}),
    ));
    let frame = json!({"action": "auth", "token": jwt, "id": "r1"}).to_string();

    let intents = h.frame("c1", &frame).await;
    assert_eq!(
        intents,
        vec![json!({
            "v": 1,
            "to": "connection:c1",
            "data": {"action": "auth", "success": true, "userId": "u1", "tenantId": "acme",
                     "id": "r1"}
        })]
    );
    let row = h.row("c1").await.unwrap();
    assert!(row.authenticated);
    assert_eq!(row.user_id.as_deref(), Some("u1"));
    assert_eq!(row.tenant_id.as_deref(), Some("acme"));
    assert_eq!(row.email.as_deref(), Some("u1@example.test"));
    assert_eq!(
        row.token_expires_at,
        Some(START + 3600 + 5),
        "exp plus leeway"
    );
    assert_eq!(row.ttl, START + 600, "now plus the idle timeout");
    assert_eq!(row.connected_at, START_MS - 1000);
}

#[tokio::test]
async fn auth_with_a_chosen_tenant() {
    let h = Harness::new();
    h.open("c1").await;
    let jwt = token(&claims("u1", json!({"tenant_id": ["acme", "globex"]})));
    let frame = json!({"action": "auth", "token": jwt, "tenantId": "globex"}).to_string();
    let reply = h.reply("c1", &frame).await;
    assert_eq!(reply["tenantId"], "globex");
    assert_eq!(
        h.row("c1").await.unwrap().tenant_id.as_deref(),
        Some("globex")
    );
}

#[tokio::test]
async fn auth_with_an_ungranted_tenant_is_forbidden() {
    let h = Harness::new();
    h.open("c1").await;
    let jwt = token(&claims("u1", json!({"tenant_id": "acme"})));
    let frame = json!({"action": "auth", "token": jwt, "tenantId": "globex", "id": 3});
    let reply = h.reply("c1", &frame.to_string()).await;
    assert_eq!(
        reply,
        json!({"action": "auth", "success": false, "error": "forbidden",
               "message": "token does not grant the requested tenant", "id": 3})
    );
    assert!(!h.row("c1").await.unwrap().authenticated);
}

#[tokio::test]
async fn failed_auth_replies_the_code_and_leaves_the_connection_unauthenticated() {
    let h = Harness::new();
    h.open("c1").await;
    let before = h.row("c1").await;

    let expired = token(&claims("u1", json!({"exp": START - 60})));
    let reply = h.reply("c1", &auth(&expired)).await;
    assert_eq!(
        reply,
        json!({"action": "auth", "success": false, "error": "token_expired",
               "message": "token has expired"})
    );

    let forged = format!("{}x", token(&claims("u1", json!({}))));
    let reply = h.reply("c1", &auth(&forged)).await;
    assert_eq!(reply["error"], "invalid_token");
    assert_eq!(reply["success"], false);

    let no_sub = token(&json!({"exp": START + 60}));
    assert_eq!(
        h.reply("c1", &auth(&no_sub)).await["error"],
        "invalid_token"
    );

    assert_eq!(h.row("c1").await, before);
}

#[tokio::test]
async fn auth_after_the_deadline_is_refused() {
    let h = Harness::new();
    h.open("c1").await;
    h.clock.advance_millis(30_000);
    let reply = h.reply("c1", &auth(&token(&claims("u1", json!({}))))).await;
    assert_eq!(reply["success"], false);
    assert_eq!(reply["error"], "unauthenticated");
}

#[tokio::test]
async fn fresh_token_for_the_same_user_refreshes_the_connection() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({"exp": START + 60})))
        .await;
    h.clock.advance_millis(50_000);

    let later = token(&claims("u1", json!({"exp": START + 7200})));
    let reply = h.reply("c1", &auth(&later)).await;
    assert_eq!(reply["success"], true);
    let row = h.row("c1").await.unwrap();
    assert_eq!(row.token_expires_at, Some(START + 7205));
    assert_eq!(row.ttl, START + 50 + 600);
}

#[tokio::test]
async fn token_for_another_user_is_forbidden_on_an_authenticated_connection() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({}))).await;
    let before = h.row("c1").await;

    let other = token(&claims("u2", json!({})));
    let reply = h.reply("c1", &auth(&other)).await;
    assert_eq!(reply["success"], false);
    assert_eq!(reply["error"], "forbidden");
    assert_eq!(h.row("c1").await, before, "still u1, unchanged");
}

#[tokio::test]
async fn auth_store_failure_is_an_internal_auth_failure() {
    let h = Harness::new();
    h.open("c1").await;
    h.store.fail("authenticate");
    let reply = h.reply("c1", &auth(&token(&claims("u1", json!({}))))).await;
    assert_eq!(reply["success"], false);
    assert_eq!(reply["error"], "internal");
    assert!(!h.row("c1").await.unwrap().authenticated);
}

// ---- before authentication -----------------------------------------------------------

#[tokio::test]
async fn only_auth_and_ping_are_allowed_before_authentication() {
    let h = Harness::new();
    h.open("c1").await;
    for frame in [
        json!({"action": "broadcast", "data": 1, "id": "b"}),
        json!({"action": "send", "to": "u2", "data": 1, "id": "b"}),
    ] {
        let reply = h.reply("c1", &frame.to_string()).await;
        assert_eq!(reply["action"], "error");
        assert_eq!(reply["error"], "unauthenticated");
        assert_eq!(reply["id"], "b");
    }
    let pong = h.reply("c1", r#"{"action":"ping"}"#).await;
    assert_eq!(pong["action"], "pong");
}

#[tokio::test]
async fn ping_does_not_extend_the_auth_deadline() {
    let h = Harness::new();
    h.open("c1").await;
    h.clock.advance_millis(20_000);
    h.reply("c1", r#"{"action":"ping"}"#).await;
    assert_eq!(h.row("c1").await.unwrap().ttl, START + 30);
}

// ---- ping ----------------------------------------------------------------------------

#[tokio::test]
async fn ping_answers_pong_with_an_iso_timestamp_and_the_id() {
    let h = Harness::new();
    h.open("c1").await;
    let intents = h.frame("c1", r#"{"action":"ping","id":42}"#).await;
    assert_eq!(
        intents,
        vec![json!({"v": 1, "to": "connection:c1",
                    "data": {"action": "pong", "timestamp": "2026-12-03T10:00:00.000Z",
                             "id": 42}})]
    );
    h.clock.advance_millis(1_234);
    let pong = h.reply("c1", r#"{"action":"ping"}"#).await;
    assert_eq!(
        pong,
        json!({"action": "pong", "timestamp": "2026-12-03T10:00:01.234Z"})
    );
}

#[tokio::test]
async fn ping_refreshes_the_expiry_once_half_the_idle_window_passed() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({}))).await;
    assert_eq!(h.row("c1").await.unwrap().ttl, START + 600);

    h.clock.advance_millis(300_000);
    h.reply("c1", r#"{"action":"ping"}"#).await;
    assert_eq!(h.row("c1").await.unwrap().ttl, START + 600, "not due yet");

    h.clock.advance_millis(1_000);
    h.reply("c1", r#"{"action":"ping"}"#).await;
    assert_eq!(h.row("c1").await.unwrap().ttl, START + 301 + 600);
}

// ---- broadcast and send --------------------------------------------------------------

#[tokio::test]
async fn broadcast_goes_to_the_senders_tenant_stamped_with_the_sender() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({"tenant_id": "acme"})))
        .await;
    let intents = h
        .frame(
            "c1",
            r#"{"action":"broadcast","data":{"text":"hi","from":"forged"},"id":"b1"}"#,
        )
        .await;
    assert_eq!(
        intents,
        vec![json!({"v": 1, "to": "tenant:acme",
                    "data": {"action": "message", "from": "u1",
                             "data": {"text": "hi", "from": "forged"}}})]
    );
}

#[tokio::test]
async fn broadcast_can_leave_out_the_sending_connection() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({"tenant_id": "acme"})))
        .await;
    let intents = h
        .frame(
            "c1",
            r#"{"action":"broadcast","data":1,"excludeSelf":true}"#,
        )
        .await;
    assert_eq!(
        intents,
        vec![json!({"v": 1, "to": "tenant:acme", "exclude": ["c1"],
                    "data": {"action": "message", "from": "u1", "data": 1}})]
    );
    let replies = h
        .frame(
            "c1",
            r#"{"action":"broadcast","data":1,"excludeSelf":"yes"}"#,
        )
        .await;
    assert_eq!(replies[0]["to"], "connection:c1");
    assert_eq!(replies[0]["data"]["error"], "bad_request");
}

#[tokio::test]
async fn broadcast_without_a_tenant_goes_to_everyone() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({}))).await;
    let intents = h
        .frame("c1", r#"{"action":"broadcast","data":[1,2]}"#)
        .await;
    assert_eq!(
        intents,
        vec![json!({"v": 1, "to": "all",
                    "data": {"action": "message", "from": "u1", "data": [1, 2]}})]
    );
}

#[tokio::test]
async fn send_goes_to_the_user_within_the_senders_tenant() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({"tenant_id": "acme"})))
        .await;
    let intents = h
        .frame("c1", r#"{"action":"send","to":"u2","data":"psst"}"#)
        .await;
    assert_eq!(
        intents,
        vec![json!({"v": 1, "to": "user:u2", "tenant": "acme",
                    "data": {"action": "message", "from": "u1", "data": "psst"}})]
    );

    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({}))).await;
    let intents = h
        .frame("c1", r#"{"action":"send","to":"u2","data":null}"#)
        .await;
    assert_eq!(
        intents,
        vec![json!({"v": 1, "to": "user:u2",
                    "data": {"action": "message", "from": "u1", "data": null}})]
    );
}

#[tokio::test]
async fn send_to_nobody_is_a_bad_request() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({}))).await;
    let reply = h
        .reply("c1", r#"{"action":"send","to":"","data":1,"id":9}"#)
        .await;
    assert_eq!(reply["error"], "bad_request");
    assert_eq!(reply["id"], 9);
}

#[tokio::test]
async fn refused_frames_count_as_activity_and_refresh_the_expiry_when_due() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({}))).await;
    h.clock.advance_millis(400_000);
    let reply = h.reply("c1", r#"{"action":"typing"}"#).await;
    assert_eq!(reply["error"], "unknown_action");
    assert_eq!(h.row("c1").await.unwrap().ttl, START + 400 + 600);

    h.clock.advance_millis(400_000);
    h.reply("c1", "not json").await;
    assert_eq!(h.row("c1").await.unwrap().ttl, START + 800 + 600);
}

#[tokio::test]
async fn expiry_rounds_up_so_the_row_outlives_the_idle_timer() {
    let h = Harness::new();
    h.clock.advance_millis(900);
    h.open_as("c1", claims("u1", json!({}))).await;
    assert_eq!(h.row("c1").await.unwrap().ttl, START + 601);
}

#[tokio::test]
async fn sending_refreshes_the_expiry_when_due() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({}))).await;
    h.clock.advance_millis(400_000);
    h.frame("c1", r#"{"action":"broadcast","data":1}"#).await;
    assert_eq!(h.row("c1").await.unwrap().ttl, START + 400 + 600);
}

#[tokio::test]
async fn after_the_token_expires_only_auth_and_ping_work() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({"exp": START + 60})))
        .await;
    h.clock.advance_millis(64_000);
    assert!(h.frame("c1", r#"{"action":"broadcast","data":1}"#).await[0]["to"] == "all");

    h.clock.advance_millis(1_000);
    for frame in [
        r#"{"action":"broadcast","data":1,"id":"x"}"#,
        r#"{"action":"send","to":"u2","data":1,"id":"x"}"#,
    ] {
        let reply = h.reply("c1", frame).await;
        assert_eq!(reply["action"], "error");
        assert_eq!(reply["error"], "token_expired");
        assert_eq!(reply["id"], "x");
    }
    assert_eq!(
        h.reply("c1", r#"{"action":"ping"}"#).await["action"],
        "pong"
    );

    let fresh = token(&claims("u1", json!({"exp": START + 3600})));
    assert_eq!(h.reply("c1", &auth(&fresh)).await["success"], true);
    assert_eq!(
        h.frame("c1", r#"{"action":"broadcast","data":1}"#).await[0]["to"],
        "all"
    );
}

#[tokio::test]
async fn a_message_over_128_kb_is_payload_too_large() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({}))).await;
    let empty = Reply::Message {
        from: "u1".into(),
        data: RawJson::of("").unwrap(),
    };
    let room = MAX_MESSAGE_BYTES - empty.to_json().len();

    let fits = json!({"action": "broadcast", "data": "x".repeat(room)}).to_string();
    let intents = h.frame("c1", &fits).await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["to"], "all");
    assert_eq!(
        serde_json::to_string(&intents[0]["data"]).unwrap().len(),
        MAX_MESSAGE_BYTES
    );

    // Multi-byte characters count by their UTF-8 bytes.
    let over = json!({"action": "send", "to": "u2", "id": "big",
                      "data": format!("{}é", "x".repeat(room - 1))});
    let reply = h.reply("c1", &over.to_string()).await;
    assert_eq!(reply["action"], "error");
    assert_eq!(reply["error"], "payload_too_large");
    assert_eq!(reply["id"], "big");
}

#[tokio::test]
async fn failed_delivery_enqueue_tells_the_sender() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({"tenant_id": "acme"})))
        .await;
    h.queue.fail_target("tenant:");
    let reply = h
        .reply("c1", r#"{"action":"broadcast","data":1,"id":"b"}"#)
        .await;
    assert_eq!(
        reply,
        json!({"action": "error", "error": "internal",
               "message": "something went wrong on our side; try again", "id": "b"})
    );
}

#[tokio::test]
async fn failed_reply_enqueue_still_returns_200() {
    let h = Harness::new();
    h.open("c1").await;
    h.queue.fail(true);
    assert_eq!(
        h.send(message_event("c1", r#"{"action":"ping"}"#)).await,
        200
    );
    assert!(h.queue.take().is_empty());
}

#[tokio::test]
async fn store_failure_while_sending_is_an_internal_error_reply() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({}))).await;
    h.store.fail("get");
    let reply = h.reply("c1", r#"{"action":"broadcast","data":1}"#).await;
    assert_eq!(reply["error"], "internal");
    // A ping still gets its pong without the row.
    assert_eq!(
        h.reply("c1", r#"{"action":"ping"}"#).await["action"],
        "pong"
    );
}

// ---- malformed frames ----------------------------------------------------------------

#[tokio::test]
async fn malformed_frames_get_the_right_error_and_never_a_panic() {
    let h = Harness::new();
    h.open("c1").await;
    let cases: [(&str, &str); 10] = [
        ("hello", "invalid_json"),
        (r#"{"action":"ping""#, "invalid_json"),
        ("", "invalid_json"),
        ("\u{0}\u{1}", "invalid_json"),
        ("[1,2]", "bad_request"),
        ("42", "bad_request"),
        (r#"{"token":"t"}"#, "bad_request"),
        (r#"{"action":"AUTH","token":"t"}"#, "unknown_action"),
        (r#"{"action":"send","to":"u2"}"#, "bad_request"),
        (r#"{"action":"auth","token":5}"#, "bad_request"),
    ];
    for (frame, code) in cases {
        let reply = h.reply("c1", frame).await;
        assert_eq!(reply["action"], "error", "{frame:?}");
        assert_eq!(reply["error"], code, "{frame:?}");
    }
}

#[tokio::test]
async fn whitespace_and_crlf_around_json_are_fine() {
    let h = Harness::new();
    h.open("c1").await;
    let reply = h
        .reply(
            "c1",
            "\r\n  {\r\n\t\"action\" : \"ping\",\r\n \"id\": \"w\"\r\n}\r\n",
        )
        .await;
    assert_eq!(reply["action"], "pong");
    assert_eq!(reply["id"], "w");
}

#[tokio::test]
async fn unknown_action_echoes_the_id() {
    let h = Harness::new();
    h.open("c1").await;
    let reply = h
        .reply("c1", r#"{"action":"subscribe","id":{"n":1}}"#)
        .await;
    assert_eq!(reply["error"], "unknown_action");
    assert_eq!(reply["id"], json!({"n": 1}));
}

#[tokio::test]
async fn binary_frames_are_a_bad_request() {
    let h = Harness::new();
    h.open("c1").await;
    let mut event = message_event("c1", "eyJhY3Rpb24iOiJwaW5nIn0=");
    event["isBase64Encoded"] = json!(true);
    assert_eq!(h.send(event).await, 200);
    let intents = h.queue.take_json();
    assert_eq!(intents[0]["data"]["error"], "bad_request");
}

#[tokio::test]
async fn an_id_too_large_to_echo_is_dropped_from_the_reply() {
    let h = Harness::new();
    h.open("c1").await;
    let frame = json!({"action": "nope", "id": "i".repeat(MAX_MESSAGE_BYTES)}).to_string();
    let reply = h.reply("c1", &frame).await;
    assert_eq!(reply["error"], "payload_too_large");
    assert_eq!(reply.get("id"), None);
}

#[tokio::test]
async fn message_on_an_unknown_connection_is_unauthenticated() {
    let h = Harness::new();
    let reply: Value = h.reply("ghost", r#"{"action":"broadcast","data":1}"#).await;
    assert_eq!(reply["error"], "unauthenticated");
    assert_eq!(h.row("ghost").await, None);
}

#[tokio::test]
async fn records_match_the_identity_written() {
    let h = Harness::new();
    h.open_as("c1", claims("u1", json!({"tenant_id": "acme"})))
        .await;
    let row = h.row("c1").await.unwrap();
    let expected = switchboard::connection::Connection::pending("c1", START_MS - 1000, 0)
        .authenticated_as(&identity("u1", Some("acme"), START + 3605), START + 600);
    assert_eq!(row, expected);
}
