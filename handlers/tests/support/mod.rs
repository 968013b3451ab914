//! Test support: handlers over the embedded store and a recording queue on a manual clock,
//! event builders shaped like API Gateway's, and HS256 tokens minted on the spot.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use switchboard::auth::Verifier;
use switchboard::clock::{Clock as _, ManualClock};
use switchboard::config::{AuthConfig, SessionConfig};
use switchboard::connection::{Connection, Identity};
use switchboard::intent::Intent;
use switchboard::queue::{EntryError, IntentQueue, Outgoing, QueueError, Received};
use switchboard::store::{Audience, ConnectionStore, Cursor, MemoryStore, Page, StoreError};
use switchboard_handlers::Handlers;

/// 2026-12-03T10:00:00.000Z.
pub const START_MS: i64 = 1_796_292_000_000;
/// [`START_MS`] in seconds.
pub const START: i64 = START_MS / 1000;
/// The HS256 secret of every test token; test material only.
pub const SECRET: &[u8] = b"handlers-test-secret-not-used-anywhere-else";

/// Handlers with everything they touch exposed to the test.
pub struct Harness {
    pub handlers: Handlers,
    pub store: Arc<FlakyStore>,
    pub queue: Arc<RecordingQueue>,
    pub clock: Arc<ManualClock>,
}

impl Harness {
    /// Default session (30 s auth, 600 s idle), tenant claim `tenant_id`, 5 s leeway.
    pub fn new() -> Self {
        Self::with_session(SessionConfig::default())
    }

    pub fn with_session(session: SessionConfig) -> Self {
        let clock = ManualClock::at_millis(START_MS);
        let store = Arc::new(FlakyStore::new(MemoryStore::with_clock(clock.clone())));
        let queue = Arc::new(RecordingQueue::default());
        let verifier = Verifier::new(&auth_config(), Some(SECRET)).unwrap();
        let handlers = Handlers::new(
            store.clone(),
            queue.clone(),
            Arc::new(verifier),
            session,
            clock.clone(),
        );
        Self {
            handlers,
            store,
            queue,
            clock,
        }
    }

    pub async fn send(&self, event: Value) -> i64 {
        self.handlers.handle(event).await.status_code
    }

    /// Opens `id` and forgets the deadline intent it enqueued.
    pub async fn open(&self, id: &str) {
        assert_eq!(self.send(connect_event(id)).await, 200);
        self.queue.take();
    }

    /// Opens `id` and authenticates it with a token for `claims`; forgets the intents.
    pub async fn open_as(&self, id: &str, claims: Value) {
        self.open(id).await;
        let frame = json!({"action": "auth", "token": token(&claims)}).to_string();
        assert_eq!(self.send(message_event(id, &frame)).await, 200);
        let replies = self.queue.take_json();
        assert_eq!(replies[0]["data"]["success"], json!(true), "{replies:?}");
    }

    /// Sends `frame` on `id` and returns the intents it enqueued, as JSON.
    pub async fn frame(&self, id: &str, frame: &str) -> Vec<Value> {
        assert_eq!(self.send(message_event(id, frame)).await, 200);
        self.queue.take_json()
    }

    /// The only intent `frame` produced, which must go back to `id`; returns its data.
    pub async fn reply(&self, id: &str, frame: &str) -> Value {
        let intents = self.frame(id, frame).await;
        assert_eq!(intents.len(), 1, "one reply expected: {intents:?}");
        assert_eq!(intents[0]["to"], json!(format!("connection:{id}")));
        intents[0]["data"].clone()
    }

    pub async fn row(&self, id: &str) -> Option<Connection> {
        self.store
            .inner
            .rows()
            .into_iter()
            .find(|c| c.connection_id == id)
    }

    pub fn now(&self) -> i64 {
        self.clock.now_secs()
    }
}

pub fn auth_config() -> AuthConfig {
    AuthConfig::default()
}

/// An HS256 token for `claims`, signed with [`SECRET`].
pub fn token(claims: &Value) -> String {
    let key = EncodingKey::from_secret(SECRET).unwrap();
    jsonwebtoken::encode(&Header::default(), claims, &key).unwrap()
}

/// Claims for `sub`, valid for an hour from [`START`], plus `extra`.
pub fn claims(sub: &str, extra: Value) -> Value {
    let mut c = json!({"sub": sub, "exp": START + 3600});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

pub fn identity(user: &str, tenant: Option<&str>, expires_at: i64) -> Identity {
    Identity {
        user_id: user.into(),
        tenant_id: tenant.map(str::to_owned),
        email: None,
        token_expires_at: expires_at,
    }
}

fn context(id: &str, route_key: &str, event_type: &str) -> Value {
    json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": "X1=",
        "requestTime": "03/Dec/2026:10:00:00 +0000",
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": START_MS - 1000,
        "requestTimeEpoch": START_MS,
        "identity": {"sourceIp": "203.0.113.10"},
        "requestId": "X1=",
        "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "connectionId": id,
        "apiId": "abcdef1234"
    })
}

pub fn connect_event(id: &str) -> Value {
    json!({
        "headers": {"Host": "abcdef1234.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abcdef1234.execute-api.us-east-1.amazonaws.com"]},
        "requestContext": context(id, "$connect", "CONNECT"),
        "isBase64Encoded": false
    })
}

pub fn disconnect_event(id: &str) -> Value {
    let mut c = context(id, "$disconnect", "DISCONNECT");
    c["disconnectStatusCode"] = json!(1000);
    c["disconnectReason"] = json!("");
    json!({"headers": {}, "multiValueHeaders": {}, "requestContext": c, "isBase64Encoded": false})
}

pub fn message_event(id: &str, body: &str) -> Value {
    let mut c = context(id, "$default", "MESSAGE");
    c["messageId"] = json!("M1=");
    json!({"requestContext": c, "body": body, "isBase64Encoded": false})
}

/// A queue that records what was sent, with its delay, and can be told to fail.
#[derive(Default)]
pub struct RecordingQueue {
    sent: Mutex<Vec<Outgoing>>,
    failing: AtomicBool,
    /// When set, only intents whose target starts with this fail.
    failing_target: Mutex<Option<String>>,
}

impl RecordingQueue {
    /// Everything sent since the last take.
    pub fn take(&self) -> Vec<Outgoing> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    /// Bodies sent since the last take, checked to be valid intents, as JSON.
    pub fn take_json(&self) -> Vec<Value> {
        self.take()
            .into_iter()
            .map(|m| {
                Intent::parse(&m.body).unwrap_or_else(|e| panic!("invalid intent {}: {e}", m.body));
                serde_json::from_str(&m.body).unwrap()
            })
            .collect()
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Fails only intents whose `to` starts with `prefix`, such as `tenant:`.
    pub fn fail_target(&self, prefix: &str) {
        *self.failing_target.lock().unwrap() = Some(format!("\"to\":\"{prefix}"));
    }
}

#[async_trait]
impl IntentQueue for RecordingQueue {
    async fn send(&self, message: Outgoing) -> Result<String, QueueError> {
        let targeted = self
            .failing_target
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|needle| message.body.contains(needle.as_str()));
        if targeted || self.failing.load(Ordering::SeqCst) {
            return Err(QueueError::Backend {
                operation: "send",
                source: "queue is down (test)".into(),
            });
        }
        self.sent.lock().unwrap().push(message);
        Ok("m".into())
    }

    async fn send_batch(
        &self,
        messages: &[Outgoing],
    ) -> Result<Vec<Result<String, EntryError>>, QueueError> {
        let mut results = Vec::new();
        for m in messages {
            results.push(Ok(self.send(m.clone()).await?));
        }
        Ok(results)
    }

    /// The handlers only send; nothing is ever received here.
    async fn receive(&self, _max: usize, _wait: Duration) -> Result<Vec<Received>, QueueError> {
        Ok(Vec::new())
    }

    async fn delete(&self, _receipt_handle: &str) -> Result<(), QueueError> {
        Ok(())
    }
}

/// The embedded store, with operations that can be told to fail.
pub struct FlakyStore {
    pub inner: MemoryStore,
    failing: Mutex<HashMap<&'static str, bool>>,
}

impl FlakyStore {
    fn new(inner: MemoryStore) -> Self {
        Self {
            inner,
            failing: Mutex::new(HashMap::new()),
        }
    }

    /// Makes `operation` (`save_pending`, `get`, `authenticate`, ...) fail from now on.
    pub fn fail(&self, operation: &'static str) {
        self.failing.lock().unwrap().insert(operation, true);
    }

    fn check(&self, operation: &'static str) -> Result<(), StoreError> {
        if self
            .failing
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(false)
        {
            return Err(StoreError::Backend {
                operation,
                source: "store is down (test)".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl ConnectionStore for FlakyStore {
    async fn save_pending(&self, connection: &Connection) -> Result<(), StoreError> {
        self.check("save_pending")?;
        self.inner.save_pending(connection).await
    }

    async fn authenticate(
        &self,
        connection_id: &str,
        identity: &Identity,
        ttl: i64,
    ) -> Result<Connection, StoreError> {
        self.check("authenticate")?;
        self.inner.authenticate(connection_id, identity, ttl).await
    }

    async fn refresh(&self, connection_id: &str, ttl: i64) -> Result<(), StoreError> {
        self.check("refresh")?;
        self.inner.refresh(connection_id, ttl).await
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        self.check("get")?;
        self.inner.get(connection_id).await
    }

    async fn remove(&self, connection_id: &str) -> Result<(), StoreError> {
        self.check("remove")?;
        self.inner.remove(connection_id).await
    }

    async fn remove_if_same(&self, id: &str, connected_at: i64) -> Result<bool, StoreError> {
        self.check("remove_if_same")?;
        self.inner.remove_if_same(id, connected_at).await
    }

    async fn remove_many(&self, connection_ids: &[String]) -> Result<(), StoreError> {
        self.check("remove_many")?;
        self.inner.remove_many(connection_ids).await
    }

    async fn page(
        &self,
        audience: &Audience,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.inner.page(audience, cursor, limit).await
    }
}
