//! Counts tasks that must finish before shutdown completes: connection tasks (which run
//! `$disconnect`) and in-flight invocations.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// A count of running tasks that can be waited on until it drops to zero.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    running: AtomicUsize,
    idle: Notify,
}

/// Held by a running task; dropping it marks the task finished.
#[derive(Debug)]
pub struct Guard {
    inner: Arc<Inner>,
}

impl Tracker {
    /// Marks one task started.
    pub fn start(&self) -> Guard {
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        Guard {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Tasks still running.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// Waits until no task is running.
    pub async fn wait(&self) {
        loop {
            let idle = self.inner.idle.notified();
            if self.running() == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.inner.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_returns_once_every_guard_is_dropped() {
        let tracker = Tracker::default();
        let a = tracker.start();
        let b = tracker.start();
        let waiter = tokio::spawn({
            let tracker = tracker.clone();
            async move { tracker.wait().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        waiter.await.unwrap();
        assert_eq!(tracker.running(), 0);
    }
}
