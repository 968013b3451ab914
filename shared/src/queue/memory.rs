//! The embedded queue: SQS semantics in memory, for local use and tests.
//!
//! Time is `tokio::time`, so tests on a paused runtime see visibility timeouts and delays
//! pass without sleeping.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{EntryError, IntentQueue, Outgoing, QueueError, Received};
use crate::clock::{self, SharedClock};
use crate::limits::{MAX_QUEUE_DELAY_SECS, MAX_QUEUE_MESSAGE_BYTES, QUEUE_BATCH};

/// Queue attributes that matter to the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryQueueConfig {
    /// How long a received message stays hidden before it is delivered again.
    pub visibility_timeout: Duration,
    /// Receives after which a message moves to the dead-letter queue, if there is one.
    pub max_receive_count: u32,
}

impl Default for MemoryQueueConfig {
    /// Matches what `provision` creates: 30 s visibility, 5 receives.
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: 5,
        }
    }
}

/// An in-memory queue with an optional dead-letter queue.
pub struct MemoryQueue {
    config: MemoryQueueConfig,
    state: Mutex<State>,
    arrived: Notify,
    dead_letters: Option<Arc<MemoryQueue>>,
    clock: SharedClock,
}

#[derive(Default)]
struct State {
    messages: VecDeque<Stored>,
    next_id: u64,
}

struct Stored {
    message_id: String,
    body: String,
    visible_at: Instant,
    receive_count: u32,
    receipt_handle: Option<String>,
    sent_at: i64,
}

impl MemoryQueue {
    /// A queue without a dead-letter queue: messages are redelivered forever.
    pub fn new(config: MemoryQueueConfig) -> Arc<Self> {
        Arc::new(Self::build(config, None))
    }

    /// A queue that moves a message to `dead_letters` once it has been received more than
    /// `config.max_receive_count` times.
    pub fn with_dead_letters(
        config: MemoryQueueConfig,
        dead_letters: Arc<MemoryQueue>,
    ) -> Arc<Self> {
        Arc::new(Self::build(config, Some(dead_letters)))
    }

    /// The dead-letter queue, if any.
    pub fn dead_letters(&self) -> Option<&Arc<MemoryQueue>> {
        self.dead_letters.as_ref()
    }

    /// Messages held, visible or in flight.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// Whether the queue holds no message at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bodies of every message held, in order; for tests and inspection.
    pub fn bodies(&self) -> Vec<String> {
        self.lock()
            .messages
            .iter()
            .map(|m| m.body.clone())
            .collect()
    }

    fn build(config: MemoryQueueConfig, dead_letters: Option<Arc<MemoryQueue>>) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
            dead_letters,
            clock: clock::system(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, body: String, delay: Duration) -> String {
        let mut state = self.lock();
        state.next_id += 1;
        let message_id = format!("{:08x}-local", state.next_id);
        state.messages.push_back(Stored {
            message_id: message_id.clone(),
            body,
            visible_at: Instant::now() + delay,
            receive_count: 0,
            receipt_handle: None,
            sent_at: self.clock.now_millis(),
        });
        drop(state);
        self.arrived.notify_waiters();
        message_id
    }

    /// Takes up to `max` visible messages; returns them and when the next hidden one shows.
    fn take_visible(&self, max: usize) -> (Vec<Received>, Option<Instant>) {
        let now = Instant::now();
        let mut state = self.lock();
        let mut taken = Vec::new();
        let mut dead = Vec::new();
        let mut next_visible: Option<Instant> = None;
        let mut index = 0;
        while index < state.messages.len() && taken.len() < max {
            let message = &mut state.messages[index];
            if message.visible_at > now {
                next_visible =
                    Some(next_visible.map_or(message.visible_at, |t| t.min(message.visible_at)));
                index += 1;
                continue;
            }
            if self.dead_letters.is_some() && message.receive_count >= self.config.max_receive_count
            {
                dead.extend(state.messages.remove(index));
                continue;
            }
            message.receive_count += 1;
            let handle = format!("{}#{}", message.message_id, message.receive_count);
            message.receipt_handle = Some(handle.clone());
            message.visible_at = now + self.config.visibility_timeout;
            taken.push(Received {
                message_id: message.message_id.clone(),
                receipt_handle: handle,
                body: message.body.clone(),
                receive_count: message.receive_count,
                sent_at: message.sent_at,
            });
            index += 1;
        }
        drop(state);
        if let Some(dlq) = &self.dead_letters {
            for message in dead {
                tracing::warn!(
                    message_id = %message.message_id,
                    receives = message.receive_count,
                    "message dead-lettered"
                );
                dlq.push(message.body, Duration::ZERO);
            }
        }
        (taken, next_visible)
    }
}

#[async_trait]
impl IntentQueue for MemoryQueue {
    async fn send(&self, message: Outgoing) -> Result<String, QueueError> {
        let delay = check(&message).map_err(QueueError::Rejected)?;
        Ok(self.push(message.body, delay))
    }

    async fn send_batch(
        &self,
        messages: &[Outgoing],
    ) -> Result<Vec<Result<String, EntryError>>, QueueError> {
        if messages.len() > QUEUE_BATCH {
            return Err(QueueError::Rejected(EntryError {
                code: "TooManyEntriesInBatchRequest".into(),
                message: format!("{} entries; at most {QUEUE_BATCH}", messages.len()),
            }));
        }
        Ok(messages
            .iter()
            .map(|m| check(m).map(|delay| self.push(m.body.clone(), delay)))
            .collect())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let deadline = Instant::now() + wait;
        loop {
            // Register for wake-ups before looking, so a send in between is not missed.
            let arrived = self.arrived.notified();
            let (taken, next_visible) = self.take_visible(max.clamp(1, QUEUE_BATCH));
            if !taken.is_empty() || Instant::now() >= deadline {
                return Ok(taken);
            }
            let until = next_visible.map_or(deadline, |t| t.min(deadline));
            tokio::select! {
                () = arrived => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut state = self.lock();
        // Like SQS, deleting with a stale handle is not an error.
        state
            .messages
            .retain(|m| m.receipt_handle.as_deref() != Some(receipt_handle));
        Ok(())
    }
}

/// SQS's own checks on a message: body size and delay.
fn check(message: &Outgoing) -> Result<Duration, EntryError> {
    if message.body.len() > MAX_QUEUE_MESSAGE_BYTES {
        return Err(EntryError {
            code: "InvalidParameterValue".into(),
            message: format!(
                "message is {} bytes; at most {MAX_QUEUE_MESSAGE_BYTES}",
                message.body.len()
            ),
        });
    }
    let delay = message.delay.unwrap_or_default();
    if delay.as_secs() > MAX_QUEUE_DELAY_SECS {
        return Err(EntryError {
            code: "InvalidParameterValue".into(),
            message: format!("delay {}s exceeds {MAX_QUEUE_DELAY_SECS}s", delay.as_secs()),
        });
    }
    Ok(delay)
}
