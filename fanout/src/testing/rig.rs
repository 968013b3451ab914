//! A worker wired to a fake Management API and any store and queue, driven like Lambda.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use switchboard::clock::{self, Clock as _, SharedClock};
use switchboard::config::FanoutTuning;
use switchboard::connection::{Connection, Identity};
use switchboard::intent::Intent;
use switchboard::queue::{MemoryQueue, MemoryQueueConfig, Received, SharedQueue};
use switchboard::store::{MemoryStore, SharedStore};

use super::api::FakeManagementApi;
use crate::backoff::Backoff;
use crate::worker::Worker;

/// The stage the fake serves.
pub const STAGE: &str = "test";

/// How long a seeded connection lives: far beyond any test.
const LIFETIME_SECS: i64 = 3_600;

/// Batches [`Rig::drain`] processes before deciding the worker is looping.
const DRAIN_LIMIT: usize = 5_000;

/// A worker, its fake Management API, and the store and queue it runs on.
pub struct Rig {
    /// The fake Management API the worker posts to.
    pub api: FakeManagementApi,
    /// The connection store.
    pub store: SharedStore,
    /// The intents queue.
    pub queue: SharedQueue,
    /// The worker under test, on the real SDK client.
    pub worker: Worker,
    /// The clock the worker judges rows by (the system clock).
    pub clock: SharedClock,
    /// The tuning the worker was built with.
    pub tuning: FanoutTuning,
}

/// What a [`Rig::drain`] saw.
#[derive(Debug, Default)]
pub struct Drained {
    /// Batches processed.
    pub batches: usize,
    /// Records processed.
    pub records: usize,
    /// Bodies of the records the worker reported failed (deleted so the drain ends).
    pub failed: Vec<String>,
}

impl Rig {
    /// A rig with `tuning`, retries that wait at most milliseconds, and retry intents
    /// enqueued without delay, so a drain sees them at once.
    pub async fn new(store: SharedStore, queue: SharedQueue, tuning: FanoutTuning) -> Self {
        let api = FakeManagementApi::start(STAGE).await;
        let poster = api.poster(tuning.post_timeout).await;
        let clock = clock::system();
        let worker = Worker::new(
            store.clone(),
            queue.clone(),
            Arc::new(poster),
            tuning,
            clock.clone(),
        )
        .with_backoff(quick_backoff());
        Self {
            api,
            store,
            queue,
            worker,
            clock,
            tuning,
        }
    }

    /// A rig on a fresh embedded store and queue.
    pub async fn embedded(tuning: FanoutTuning) -> Self {
        let store = Arc::new(MemoryStore::new());
        let queue = MemoryQueue::new(MemoryQueueConfig::default());
        Self::new(store, queue, tuning).await
    }

    /// An authenticated, live connection row with a live token.
    pub fn live(&self, id: &str, user: &str, tenant: Option<&str>) -> Connection {
        let now = self.clock.now_secs();
        let identity = Identity {
            user_id: user.to_owned(),
            tenant_id: tenant.map(str::to_owned),
            email: None,
            token_expires_at: now + LIFETIME_SECS,
        };
        Connection::pending(id, self.clock.now_millis(), now + 30)
            .authenticated_as(&identity, now + LIFETIME_SECS)
    }

    /// Writes rows as they are, many at once.
    ///
    /// # Panics
    /// When the store refuses a row.
    pub async fn seed(&self, rows: impl IntoIterator<Item = Connection>) {
        let rows: Vec<Connection> = rows.into_iter().collect();
        self.store
            .save_all(&rows)
            .await
            .expect("seed connection rows");
    }

    /// Processes `bodies` as one batch, with record ids `m0`, `m1`, ...
    pub async fn run(&self, bodies: &[&str]) -> SqsBatchResponse {
        let records = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| message(&format!("m{i}"), body, 1))
            .collect();
        self.worker.process(event(records), deadline()).await
    }

    /// Processes one intent as a batch of one (record id `m0`).
    pub async fn publish(&self, body: &str) -> SqsBatchResponse {
        self.run(&[body]).await
    }

    /// Receives and processes intents from the queue, as Lambda would, until it is empty.
    ///
    /// # Panics
    /// When the queue fails, or the worker keeps producing work past a sane limit.
    pub async fn drain(&self) -> Drained {
        let mut drained = Drained::default();
        loop {
            assert!(
                drained.batches < DRAIN_LIMIT,
                "still draining after {DRAIN_LIMIT} batches"
            );
            let received = self
                .queue
                .receive(10, Duration::ZERO)
                .await
                .expect("receive intents");
            if received.is_empty() {
                return drained;
            }
            drained.batches += 1;
            drained.records += received.len();
            let records = received.iter().map(from_queue).collect();
            let response = self.worker.process(event(records), deadline()).await;
            for message in &received {
                let id = &message.message_id;
                if response
                    .batch_item_failures
                    .iter()
                    .any(|f| &f.item_identifier == id)
                {
                    drained.failed.push(message.body.clone());
                }
                self.queue
                    .delete(&message.receipt_handle)
                    .await
                    .expect("delete a processed intent");
            }
        }
    }

    /// Intents waiting in the queue, received and deleted; for inspecting follow-ups.
    ///
    /// # Panics
    /// When the queue fails or holds something that is not an intent.
    pub async fn take_intents(&self) -> Vec<Intent> {
        let mut intents = Vec::new();
        loop {
            let received = self
                .queue
                .receive(10, Duration::ZERO)
                .await
                .expect("receive intents");
            if received.is_empty() {
                return intents;
            }
            for message in received {
                intents.push(Intent::parse(&message.body).expect("queued body is an intent"));
                self.queue
                    .delete(&message.receipt_handle)
                    .await
                    .expect("delete an intent");
            }
        }
    }
}

/// Retries a few milliseconds apart and retry intents visible at once.
pub fn quick_backoff() -> Backoff {
    Backoff {
        retries: 2,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(10),
        requeue_base: Duration::ZERO,
        requeue_cap: Duration::ZERO,
    }
}

/// An SQS record as Lambda delivers it.
pub fn message(message_id: &str, body: &str, receive_count: u32) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(message_id.to_owned());
    message.receipt_handle = Some(format!("{message_id}-handle"));
    message.body = Some(body.to_owned());
    message.event_source = Some("aws:sqs".to_owned());
    message.attributes.insert(
        "ApproximateReceiveCount".to_owned(),
        receive_count.to_string(),
    );
    message.attributes.insert(
        "SentTimestamp".to_owned(),
        clock::SystemClock.now_millis().to_string(),
    );
    message
}

/// An SQS event of `records`.
pub fn event(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

/// A deadline no test reaches.
pub fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn from_queue(received: &Received) -> SqsMessage {
    let mut record = message(&received.message_id, &received.body, received.receive_count);
    record
        .attributes
        .insert("SentTimestamp".to_owned(), received.sent_at.to_string());
    record
}
