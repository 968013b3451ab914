//! Streaming and stopping: posting overlaps reading, and a run cut short by the deadline or
//! a store failure continues elsewhere without repeating a delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use switchboard::clock::{self, Clock as _};
use switchboard::config::FanoutTuning;
use switchboard::connection::{Connection, Identity};
use switchboard::intent::Intent;
use switchboard::queue::{IntentQueue, MemoryQueue, MemoryQueueConfig};
use switchboard::store::{Audience, ConnectionStore, Cursor, MemoryStore, Page, StoreError};
use switchboard_fanout::Worker;
use switchboard_fanout::testing::scenarios::failures;
use switchboard_fanout::testing::{CountingSink, deadline, event, message, quick_backoff};

fn live(id: &str) -> Connection {
    let now = clock::SystemClock.now_secs();
    let identity = Identity {
        user_id: "u".into(),
        tenant_id: Some("acme".into()),
        email: None,
        token_expires_at: now + 3_600,
    };
    Connection::pending(id, 0, now + 30).authenticated_as(&identity, now + 3_600)
}

async fn seeded(count: usize) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    for i in 0..count {
        store
            .save_pending(&live(&format!("c{i:03}")))
            .await
            .unwrap();
    }
    store
}

fn tuning(page_size: usize, concurrency: usize) -> FanoutTuning {
    FanoutTuning {
        page_size,
        concurrency,
        post_timeout: Duration::from_millis(50),
        ..FanoutTuning::default()
    }
}

fn worker(
    store: Arc<dyn ConnectionStore>,
    queue: Arc<MemoryQueue>,
    sink: Arc<CountingSink>,
    tuning: FanoutTuning,
) -> Worker {
    Worker::new(store, queue, sink, tuning, clock::system()).with_backoff(quick_backoff())
}

/// Runs every intent in `queue` until it is empty.
async fn drain(worker: &Worker, queue: &MemoryQueue) {
    for _ in 0..1_000 {
        let received = queue.receive(10, Duration::ZERO).await.unwrap();
        if received.is_empty() {
            return;
        }
        let records = received
            .iter()
            .map(|r| message(&r.message_id, &r.body, r.receive_count))
            .collect();
        let response = worker.process(event(records), deadline()).await;
        assert_eq!(failures(&response), Vec::<String>::new());
        for r in received {
            queue.delete(&r.receipt_handle).await.unwrap();
        }
    }
    panic!("queue never drained");
}

const TENANT: &str = r#"{"to":"tenant:acme","data":1}"#;

#[tokio::test]
async fn first_post_starts_before_the_last_page_is_read() {
    let sink = CountingSink::new(Duration::ZERO);
    let store = Arc::new(Gated {
        inner: seeded(30).await,
        sink: sink.clone(),
        fail_at_page: None,
        pages: AtomicUsize::new(0),
        streamed: AtomicUsize::new(0),
    });
    let queue = MemoryQueue::new(MemoryQueueConfig::default());
    let worker = worker(store.clone(), queue, sink.clone(), tuning(10, 4));

    let response = worker
        .process(event(vec![message("m0", TENANT, 1)]), deadline())
        .await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(sink.total(), 30);
    assert!(store.pages.load(Ordering::SeqCst) >= 3);
    assert_eq!(
        store.streamed.load(Ordering::SeqCst),
        store.pages.load(Ordering::SeqCst) - 1,
        "every page after the first was read while posts were already under way"
    );
}

#[tokio::test]
async fn deadline_stops_the_run_early_and_the_rest_continues_without_repeats() {
    let sink = CountingSink::new(Duration::from_millis(5));
    let store = seeded(200).await;
    let queue = MemoryQueue::new(MemoryQueueConfig::default());
    let worker = worker(store, queue.clone(), sink.clone(), tuning(10, 2));
    // 50 ms post timeout + 250 ms kept for finishing: posting must stop within ~100 ms.
    let answer_by = Instant::now() + Duration::from_millis(400);

    let response = worker
        .process(event(vec![message("m0", TENANT, 1)]), answer_by)
        .await;

    assert!(Instant::now() < answer_by, "answered before the deadline");
    assert_eq!(failures(&response), Vec::<String>::new());
    let first_run = sink.total();
    assert!(
        first_run > 0 && first_run < 200,
        "{first_run} posted in the first run"
    );
    let follow_ups: Vec<Intent> = queue
        .bodies()
        .iter()
        .map(|b| Intent::parse(b).unwrap())
        .collect();
    assert!(
        follow_ups.iter().any(|i| i.progress.cursor.is_some()),
        "the unread rest continues from a cursor"
    );
    assert!(
        follow_ups.iter().all(|i| i.progress.attempt == 0),
        "nothing was retried, so no attempt is spent"
    );

    drain(&worker, &queue).await;

    let deliveries = sink.deliveries();
    assert_eq!(deliveries.len(), 200);
    assert!(deliveries.values().all(|n| *n == 1), "{deliveries:?}");
}

#[tokio::test]
async fn deadline_already_passed_fails_the_record_instead_of_looping() {
    let sink = CountingSink::new(Duration::ZERO);
    let queue = MemoryQueue::new(MemoryQueueConfig::default());
    let worker = worker(seeded(5).await, queue.clone(), sink.clone(), tuning(10, 2));

    let response = worker
        .process(event(vec![message("m0", TENANT, 1)]), Instant::now())
        .await;

    assert_eq!(failures(&response), ["m0"]);
    assert_eq!(sink.total(), 0);
    assert!(queue.is_empty(), "the same work is not re-enqueued");
}

#[tokio::test]
async fn store_failure_before_any_page_fails_the_record() {
    let sink = CountingSink::new(Duration::ZERO);
    let store = Arc::new(Gated::failing(seeded(30).await, sink.clone(), 1));
    let queue = MemoryQueue::new(MemoryQueueConfig::default());
    let worker = worker(store, queue.clone(), sink.clone(), tuning(10, 4));

    let response = worker
        .process(event(vec![message("m0", TENANT, 1)]), deadline())
        .await;

    assert_eq!(failures(&response), ["m0"]);
    assert!(queue.is_empty());
}

#[tokio::test]
async fn store_failure_mid_read_continues_from_the_last_page() {
    let sink = CountingSink::new(Duration::ZERO);
    let inner = seeded(30).await;
    let failing = Arc::new(Gated::failing(inner.clone(), sink.clone(), 2));
    let queue = MemoryQueue::new(MemoryQueueConfig::default());
    let first = worker(failing, queue.clone(), sink.clone(), tuning(10, 4));

    let response = first
        .process(event(vec![message("m0", TENANT, 1)]), deadline())
        .await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(sink.total(), 10, "the first page was delivered");
    let healthy = worker(inner, queue.clone(), sink.clone(), tuning(10, 4));
    drain(&healthy, &queue).await;
    let deliveries = sink.deliveries();
    assert_eq!(deliveries.len(), 30);
    assert!(deliveries.values().all(|n| *n == 1), "{deliveries:?}");
}

/// A store that notes whether posting had begun when each later page was read, and can
/// fail at a given page.
struct Gated {
    inner: Arc<MemoryStore>,
    sink: Arc<CountingSink>,
    fail_at_page: Option<usize>,
    pages: AtomicUsize,
    streamed: AtomicUsize,
}

impl Gated {
    fn failing(inner: Arc<MemoryStore>, sink: Arc<CountingSink>, page: usize) -> Self {
        Self {
            inner,
            sink,
            fail_at_page: Some(page),
            pages: AtomicUsize::new(0),
            streamed: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl ConnectionStore for Gated {
    async fn save_pending(&self, connection: &Connection) -> Result<(), StoreError> {
        self.inner.save_pending(connection).await
    }

    async fn authenticate(
        &self,
        connection_id: &str,
        identity: &Identity,
        ttl: i64,
    ) -> Result<Connection, StoreError> {
        self.inner.authenticate(connection_id, identity, ttl).await
    }

    async fn refresh(&self, connection_id: &str, ttl: i64) -> Result<(), StoreError> {
        self.inner.refresh(connection_id, ttl).await
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        self.inner.get(connection_id).await
    }

    async fn remove(&self, connection_id: &str) -> Result<(), StoreError> {
        self.inner.remove(connection_id).await
    }

    async fn remove_if_same(
        &self,
        connection_id: &str,
        connected_at: i64,
    ) -> Result<bool, StoreError> {
        self.inner.remove_if_same(connection_id, connected_at).await
    }

    async fn remove_many(&self, connection_ids: &[String]) -> Result<(), StoreError> {
        self.inner.remove_many(connection_ids).await
    }

    async fn page(
        &self,
        audience: &Audience,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let number = self.pages.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_at_page == Some(number) {
            return Err(StoreError::Backend {
                operation: "Query",
                source: "injected failure".into(),
            });
        }
        if number > 1 {
            // Reading this page waits for the first post; without streaming it never comes.
            let began = tokio::time::timeout(Duration::from_secs(2), self.sink.first_post());
            if began.await.is_ok() {
                self.streamed.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.inner.page(audience, cursor, limit).await
    }
}
