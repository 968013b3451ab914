//! The worker's scenarios on the embedded store and queue. The contract suite runs the
//! same scenarios on DynamoDB and SQS.

use std::sync::Arc;

use switchboard::queue::{MemoryQueue, MemoryQueueConfig, SharedQueue};
use switchboard::store::{MemoryStore, SharedStore};
use switchboard_fanout::testing::scenarios;

fn embedded() -> (SharedStore, SharedQueue) {
    (
        Arc::new(MemoryStore::new()),
        MemoryQueue::new(MemoryQueueConfig::default()),
    )
}

#[tokio::test]
async fn tenant_broadcast_prunes_gone_connection() {
    let (store, queue) = embedded();
    scenarios::tenant_broadcast_prunes_gone_connection(store, queue).await;
}

#[tokio::test]
async fn throttled_and_failing_posts_are_delivered_exactly_once() {
    let (store, queue) = embedded();
    scenarios::throttled_and_failing_posts_are_delivered_exactly_once(store, queue).await;
}

#[tokio::test]
async fn slow_post_does_not_hold_up_the_others() {
    let (store, queue) = embedded();
    scenarios::slow_post_does_not_hold_up_the_others(store, queue).await;
}

#[tokio::test]
async fn bad_records_fail_alone() {
    let (store, queue) = embedded();
    scenarios::bad_records_fail_alone(store, queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_audiences_are_delivered_exactly_once() {
    let (store, queue) = embedded();
    scenarios::large_audiences_are_delivered_exactly_once(store, queue).await;
}

#[tokio::test]
async fn frame_at_the_limit_is_posted_and_one_byte_more_is_refused() {
    let (store, queue) = embedded();
    scenarios::frame_at_the_limit_is_posted_and_one_byte_more_is_refused(store, queue).await;
}
