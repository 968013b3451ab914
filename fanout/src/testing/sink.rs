//! An in-process [`Poster`] that counts frames per connection, without HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::poster::{PostOutcome, Poster};

/// Delivers every post after an optional delay and counts it; closes likewise.
///
/// For benchmarks that should measure the worker rather than an HTTP stack, and for tests
/// that need to see when posting starts.
#[derive(Debug, Default)]
pub struct CountingSink {
    delay: Duration,
    state: Mutex<Counts>,
    posted: Notify,
}

#[derive(Debug, Default)]
struct Counts {
    posts: HashMap<String, usize>,
    deletes: Vec<String>,
}

impl CountingSink {
    /// A sink that answers each call after `delay`.
    pub fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            delay,
            ..Self::default()
        })
    }

    /// Posts per connection id.
    pub fn deliveries(&self) -> HashMap<String, usize> {
        self.lock().posts.clone()
    }

    /// Posts in all.
    pub fn total(&self) -> usize {
        self.lock().posts.values().sum()
    }

    /// Connection ids closed, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.lock().deletes.clone()
    }

    /// Resolves once at least one post has been answered.
    pub async fn first_post(&self) {
        loop {
            // Register before looking, so a post in between is not missed.
            let posted = self.posted.notified();
            if self.total() > 0 {
                return;
            }
            posted.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Poster for CountingSink {
    async fn post(&self, connection_id: &str, _frame: &[u8]) -> PostOutcome {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        *self
            .lock()
            .posts
            .entry(connection_id.to_owned())
            .or_default() += 1;
        self.posted.notify_waiters();
        PostOutcome::Delivered
    }

    async fn delete(&self, connection_id: &str) -> PostOutcome {
        self.lock().deletes.push(connection_id.to_owned());
        PostOutcome::Delivered
    }
}
