//! The handlers' flow against every backend (embedded, and DynamoDB + SQS on moto):
//! connect, authenticate, ping, broadcast, send, a refused frame, disconnect. Asserts the
//! exact intents enqueued, the records written and the audiences they form.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use switchboard::auth::Verifier;
use switchboard::clock::{Clock as _, ManualClock, SystemClock};
use switchboard::config::{AuthConfig, SessionConfig};
use switchboard::connection::{Connection, Identity};
use switchboard::queue::{EntryError, IntentQueue, Outgoing, QueueError, Received};
use switchboard::store::Audience;
use switchboard_handlers::Handlers;
use switchboard_tests::{Backend, per_backend, unique_suffix};

per_backend!(handlers_flow);

/// Test material only: the HS256 secret of this suite's tokens.
const SECRET: &[u8] = b"handlers-flow-test-secret";

/// Forwards to the backend's queue and remembers each message with its delay.
struct Tee {
    inner: Arc<dyn IntentQueue>,
    sent: Mutex<Vec<Outgoing>>,
}

#[async_trait]
impl IntentQueue for Tee {
    async fn send(&self, message: Outgoing) -> Result<String, QueueError> {
        self.sent.lock().unwrap().push(message.clone());
        self.inner.send(message).await
    }

    async fn send_batch(
        &self,
        messages: &[Outgoing],
    ) -> Result<Vec<Result<String, EntryError>>, QueueError> {
        self.sent.lock().unwrap().extend(messages.iter().cloned());
        self.inner.send_batch(messages).await
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        self.inner.receive(max, wait).await
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt_handle).await
    }
}

fn token(sub: &str, tenant: Option<&str>, exp: i64) -> String {
    let mut claims = json!({"sub": sub, "exp": exp, "email": format!("{sub}@example.test")});
    if let Some(tenant) = tenant {
        claims["tenant_id"] = json!(tenant);
    }
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

fn event(
    id: &str,
    event_type: &str,
    route_key: &str,
    connected_at: i64,
    body: Option<&str>,
) -> Value {
    let mut event = json!({
        "requestContext": {
            "routeKey": route_key, "eventType": event_type, "connectionId": id,
            "connectedAt": connected_at, "requestTimeEpoch": connected_at,
            "stage": "test", "apiId": "abcdef1234", "identity": {"sourceIp": "127.0.0.1"}
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

/// Receives until `want` messages arrived or ten seconds passed, deleting each.
async fn drain(queue: &dyn IntentQueue, want: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut bodies = Vec::new();
    while bodies.len() < want && tokio::time::Instant::now() < deadline {
        for message in queue.receive(10, Duration::from_secs(1)).await.unwrap() {
            queue.delete(&message.receipt_handle).await.unwrap();
            bodies.push(serde_json::from_str(&message.body).unwrap());
        }
    }
    bodies
}

/// Sorts intents by their JSON text: SQS does not keep order.
fn sorted(mut intents: Vec<Value>) -> Vec<Value> {
    intents.sort_by_key(|v| v.to_string());
    intents
}

async fn handlers_flow(backend: Backend) {
    let name = backend.name;
    // A manual clock frozen at the real time, on a whole second: the stores judge expiry by
    // the system clock, and the pong's timestamp and the rows' expiry stay predictable.
    let now_ms = SystemClock.now_millis().div_euclid(1000) * 1000;
    let clock = ManualClock::at_millis(now_ms);
    let now = now_ms.div_euclid(1000);
    let auth = AuthConfig::default();
    let tee = Arc::new(Tee {
        inner: backend.queue.clone(),
        sent: Mutex::new(Vec::new()),
    });
    let handlers = Handlers::new(
        backend.store.clone(),
        tee.clone(),
        Arc::new(Verifier::new(&auth, Some(SECRET)).unwrap()),
        SessionConfig::default(),
        clock.clone(),
    );
    let suffix = unique_suffix();
    let [a, b, c] = ["a", "b", "c"].map(|n| format!("{n}-{suffix}"));
    let connected_at = now_ms - 500;
    let send = |id: &str, body: &str| {
        handlers.handle(event(id, "MESSAGE", "$default", connected_at, Some(body)))
    };

    for id in [&a, &b, &c] {
        let response = handlers
            .handle(event(id, "CONNECT", "$connect", connected_at, None))
            .await;
        assert_eq!(response.status_code, 200, "{name}");
        let row = backend.store.get(id).await.unwrap();
        assert_eq!(
            row,
            Some(Connection::pending(id.as_str(), connected_at, now + 30)),
            "{name}"
        );
    }
    let scheduled: Vec<_> = tee.sent.lock().unwrap().drain(..).collect();
    let expected: Vec<_> = [&a, &b, &c]
        .iter()
        .map(|id| {
            let body = format!(
                r#"{{"v":1,"to":"connection:{id}","_switchboard":{{"closeUnauthenticated":true}}}}"#
            );
            Outgoing::delayed(body, Duration::from_secs(30))
        })
        .collect();
    assert_eq!(
        scheduled, expected,
        "{name}: one deadline check per connection"
    );

    let exp = now + 3600;
    let frames = [
        (
            &a,
            json!({"action": "auth", "token": token("u1", Some("acme"), exp), "id": 1}),
        ),
        (
            &b,
            json!({"action": "auth", "token": token("u2", Some("acme"), exp)}),
        ),
        (
            &c,
            json!({"action": "auth", "token": token("u3", None, exp)}),
        ),
        (
            &a,
            json!({"action": "broadcast", "data": {"text": "hello acme"}}),
        ),
        (&a, json!({"action": "send", "to": "u2", "data": "psst"})),
        (&c, json!({"action": "broadcast", "data": [1, 2, 3]})),
        (&c, json!({"action": "ping", "id": "p"})),
        (&b, json!({"action": "AUTH", "id": "x"})),
    ];
    for (id, frame) in frames {
        let response = send(id, &frame.to_string()).await;
        assert_eq!(response.status_code, 200, "{name}");
    }

    let identity = |user: &str, tenant: Option<&str>| Identity {
        user_id: user.into(),
        tenant_id: tenant.map(str::to_owned),
        email: Some(format!("{user}@example.test")),
        token_expires_at: exp + 5,
    };
    for (id, user, tenant) in [(&a, "u1", Some("acme")), (&c, "u3", None)] {
        let row = backend.store.get(id).await.unwrap();
        let expected = Connection::pending(id.as_str(), connected_at, 0)
            .authenticated_as(&identity(user, tenant), now + 600);
        assert_eq!(row, Some(expected), "{name}: record of {user}");
    }
    let acme = backend
        .store
        .page(&Audience::Tenant("acme".into()), None, 100)
        .await
        .unwrap();
    let mut members: Vec<_> = acme
        .connections
        .iter()
        .map(|c| c.connection_id.clone())
        .collect();
    members.sort();
    assert_eq!(
        members,
        vec![a.clone(), b.clone()],
        "{name}: tenant audience"
    );

    let pong_time = chrono_like(now_ms);
    let expected = sorted(vec![
        json!({"v": 1, "to": format!("connection:{a}"),
               "data": {"action": "auth", "success": true, "userId": "u1", "tenantId": "acme",
                        "id": 1}}),
        json!({"v": 1, "to": format!("connection:{b}"),
               "data": {"action": "auth", "success": true, "userId": "u2", "tenantId": "acme"}}),
        json!({"v": 1, "to": format!("connection:{c}"),
               "data": {"action": "auth", "success": true, "userId": "u3"}}),
        json!({"v": 1, "to": "tenant:acme",
               "data": {"action": "message", "from": "u1", "data": {"text": "hello acme"}}}),
        json!({"v": 1, "to": "user:u2", "tenant": "acme",
               "data": {"action": "message", "from": "u1", "data": "psst"}}),
        json!({"v": 1, "to": "all",
               "data": {"action": "message", "from": "u3", "data": [1, 2, 3]}}),
        json!({"v": 1, "to": format!("connection:{c}"),
               "data": {"action": "pong", "timestamp": pong_time, "id": "p"}}),
        json!({"v": 1, "to": format!("connection:{b}"),
               "data": {"action": "error", "error": "unknown_action",
                        "message": format!("unknown action \"AUTH\"; expected one of {}",
                                           "auth, ping, broadcast, send"),
                        "id": "x"}}),
    ]);
    let received = sorted(drain(backend.queue.as_ref(), expected.len()).await);
    assert_eq!(received, expected, "{name}: intents on the queue");

    for _ in 0..2 {
        let response = handlers
            .handle(event(&b, "DISCONNECT", "$disconnect", connected_at, None))
            .await;
        assert_eq!(response.status_code, 200, "{name}");
    }
    assert_eq!(backend.store.get(&b).await.unwrap(), None, "{name}");
    assert!(backend.store.get(&a).await.unwrap().is_some(), "{name}");
}

/// ISO-8601 UTC with milliseconds, computed independently of the handler's formatter.
fn chrono_like(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        millis.rem_euclid(1000)
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[test]
fn reference_timestamp_formatter_is_right() {
    assert_eq!(chrono_like(1_796_292_000_000), "2026-12-03T10:00:00.000Z");
    assert_eq!(chrono_like(951_782_400_123), "2000-02-29T00:00:00.123Z");
}
