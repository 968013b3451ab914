//! The fanout worker's scenarios (issue 4) on every backend: the embedded store and queue,
//! and DynamoDB and SQS on moto. Each scenario gets a fresh table and queue, talks to a
//! fake Management API on loopback through the real SDK client, and asserts as it goes.

use switchboard_fanout::testing::scenarios;
use switchboard_tests::{Backend, backends, init_tracing};

/// Every backend, announced on stderr so a failure's output names the one that failed.
async fn each_backend() -> Vec<Backend> {
    init_tracing();
    backends().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_tenant_broadcast_prunes_gone_connection() {
    for b in each_backend().await {
        eprintln!("backend: {}", b.name);
        scenarios::tenant_broadcast_prunes_gone_connection(b.store, b.queue).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_throttled_and_failing_posts_are_delivered_exactly_once() {
    for b in each_backend().await {
        eprintln!("backend: {}", b.name);
        scenarios::throttled_and_failing_posts_are_delivered_exactly_once(b.store, b.queue).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_slow_post_does_not_hold_up_the_others() {
    for b in each_backend().await {
        eprintln!("backend: {}", b.name);
        scenarios::slow_post_does_not_hold_up_the_others(b.store, b.queue).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_bad_records_fail_alone() {
    for b in each_backend().await {
        eprintln!("backend: {}", b.name);
        scenarios::bad_records_fail_alone(b.store, b.queue).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_large_audiences_are_delivered_exactly_once() {
    for b in each_backend().await {
        eprintln!("backend: {}", b.name);
        scenarios::large_audiences_are_delivered_exactly_once(b.store, b.queue).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_frame_at_the_limit_is_posted_and_one_byte_more_is_refused() {
    for b in each_backend().await {
        eprintln!("backend: {}", b.name);
        scenarios::frame_at_the_limit_is_posted_and_one_byte_more_is_refused(b.store, b.queue)
            .await;
    }
}
