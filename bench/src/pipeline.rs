//! A worker in this process, on an embedded queue and any store, posting through the real
//! SDK client to a Management API at some endpoint (usually the counting sink).
//!
//! This is the fanout half of `switchboard dev` without the emulator, so that its CPU time
//! is this process's and its posting rate is not shared with WebSocket framing.

use std::sync::Arc;

use switchboard::clock::{self, Clock as _};
use switchboard::config::FanoutTuning;
use switchboard::connection::{Connection, Identity};
use switchboard::metrics::Metrics;
use switchboard::queue::{MemoryQueue, MemoryQueueConfig, Outgoing, SharedQueue};
use switchboard::store::SharedStore;
use switchboard_fanout::testing::sdk_config;
use switchboard_fanout::{ManagementPoster, Worker};
use switchboard_local::dev::integrations::WorkerFunction;
use switchboard_local::event_source::{EventSource, EventSourceConfig};

use crate::BenchError;

/// How long seeded rows and their tokens live: far longer than any run.
const LIFETIME_SECS: i64 = 3_600;

/// A worker fed from its own embedded queue.
pub struct Pipeline {
    queue: SharedQueue,
    source: EventSource,
}

impl Pipeline {
    /// A worker over `store` with default tuning, posting to `endpoint`.
    pub async fn start(store: SharedStore, endpoint: &str) -> Self {
        let tuning = FanoutTuning::default();
        let poster = ManagementPoster::new(&sdk_config().await, endpoint, tuning.post_timeout);
        let queue: SharedQueue = MemoryQueue::new(MemoryQueueConfig::default());
        let worker = Worker::new(
            store,
            queue.clone(),
            Arc::new(poster),
            tuning,
            clock::system(),
        )
        .with_metrics(Metrics::disabled());
        // The event source and worker adapter of `switchboard dev`, with its defaults.
        let function = Arc::new(WorkerFunction(Arc::new(worker)));
        let source = EventSource::start(queue.clone(), function, EventSourceConfig::default());
        Self { queue, source }
    }

    /// Enqueues one intent body.
    pub async fn publish(&self, body: &str) -> Result<(), BenchError> {
        self.queue
            .send(Outgoing::now(body))
            .await
            .map(drop)
            .map_err(|e| BenchError::Failed(format!("enqueue: {e}")))
    }

    /// Stops the event source.
    pub async fn stop(self) {
        self.source.drain().await;
    }
}

/// Ids of seeded rows: 16 characters like API Gateway's, and unique per index.
pub fn ids(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("c{i:07}Ym5jaA=")).collect()
}

/// An authenticated, live row for `id`, as the handlers would have written it.
pub fn live_row(id: &str, index: usize) -> Connection {
    let clock = clock::SystemClock;
    let now = clock.now_secs();
    let identity = Identity {
        user_id: format!("u{index}"),
        tenant_id: None,
        email: None,
        token_expires_at: now + LIFETIME_SECS,
    };
    Connection::pending(id, clock.now_millis(), now + 30)
        .authenticated_as(&identity, now + LIFETIME_SECS)
}

/// The intent every broadcast scenario publishes: everyone, a small frame.
pub fn broadcast(round: usize) -> String {
    format!(r#"{{"to":"all","data":{{"bench":"broadcast","round":{round}}}}}"#)
}
