//! The fanout worker's scenarios (issue 4) on every backend: the embedded store and queue,
//! and DynamoDB and SQS on moto. Each scenario gets a fresh table and queue, talks to a
//! fake Management API on loopback through the real SDK client, and asserts as it goes.

use switchboard_fanout::testing::scenarios;
use switchboard_tests::{Backend, init_tracing, per_backend};

per_backend! {
    fanout_tenant_broadcast_prunes_gone_connection,
    fanout_throttled_and_failing_posts_are_delivered_exactly_once,
    fanout_slow_post_does_not_hold_up_the_others,
    fanout_bad_records_fail_alone,
    fanout_large_audiences_are_delivered_exactly_once,
    fanout_frame_at_the_limit_is_posted_and_one_byte_more_is_refused,
}

async fn fanout_tenant_broadcast_prunes_gone_connection(b: Backend) {
    init_tracing();
    scenarios::tenant_broadcast_prunes_gone_connection(b.store, b.queue).await;
}

async fn fanout_throttled_and_failing_posts_are_delivered_exactly_once(b: Backend) {
    init_tracing();
    scenarios::throttled_and_failing_posts_are_delivered_exactly_once(b.store, b.queue).await;
}

async fn fanout_slow_post_does_not_hold_up_the_others(b: Backend) {
    init_tracing();
    scenarios::slow_post_does_not_hold_up_the_others(b.store, b.queue).await;
}

async fn fanout_bad_records_fail_alone(b: Backend) {
    init_tracing();
    scenarios::bad_records_fail_alone(b.store, b.queue).await;
}

async fn fanout_large_audiences_are_delivered_exactly_once(b: Backend) {
    init_tracing();
    scenarios::large_audiences_are_delivered_exactly_once(b.store, b.queue).await;
}

async fn fanout_frame_at_the_limit_is_posted_and_one_byte_more_is_refused(b: Backend) {
    init_tracing();
    scenarios::frame_at_the_limit_is_posted_and_one_byte_more_is_refused(b.store, b.queue).await;
}
