//! The intent queue: how intents reach the fanout worker.
//!
//! [`SqsQueue`] for AWS (and moto), [`MemoryQueue`] embedded for local use; both keep the
//! SQS semantics the worker relies on: at-least-once delivery, a visibility timeout, a
//! receive count, and dead-lettering after a maximum number of receives.

mod memory;
mod sqs;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use memory::{MemoryQueue, MemoryQueueConfig};
pub use sqs::SqsQueue;

use crate::limits::{MAX_QUEUE_MESSAGE_BYTES, QUEUE_BATCH};
use crate::store::BoxError;

/// A shareable queue handle.
pub type SharedQueue = Arc<dyn IntentQueue>;

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The body, usually a serialised intent.
    pub body: String,
    /// How long the message stays invisible after sending (SQS allows up to 15 minutes).
    pub delay: Option<Duration>,
}

/// A message handed out by [`IntentQueue::receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The queue's id for the message.
    pub message_id: String,
    /// The handle that deletes this receipt of the message.
    pub receipt_handle: String,
    /// The body as sent.
    pub body: String,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
    /// Epoch milliseconds at which the message was sent.
    pub sent_at: i64,
}

/// Why one entry of a batch send was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct EntryError {
    /// The queue's error code.
    pub code: String,
    /// The queue's explanation.
    pub message: String,
}

/// What can go wrong with the queue as a whole.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue refused the message itself (too large, bad delay, ...).
    #[error("queue refused the message: {0}")]
    Rejected(EntryError),
    /// The backend failed.
    #[error("queue {operation} failed")]
    Backend {
        /// The operation that failed, for the log.
        operation: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl Outgoing {
    /// A message to deliver now.
    pub fn now(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            delay: None,
        }
    }

    /// A message that becomes visible after `delay`.
    pub fn delayed(body: impl Into<String>, delay: Duration) -> Self {
        Self {
            body: body.into(),
            delay: Some(delay),
        }
    }
}

/// Where intents wait for the worker.
#[async_trait]
pub trait IntentQueue: Send + Sync + 'static {
    /// Sends one message; returns its message id.
    async fn send(&self, message: Outgoing) -> Result<String, QueueError>;

    /// Sends at most [`QUEUE_BATCH`] messages in one call; one result per message, in order.
    async fn send_batch(
        &self,
        messages: &[Outgoing],
    ) -> Result<Vec<Result<String, EntryError>>, QueueError>;

    /// Receives up to `max` messages, waiting up to `wait` for the first to arrive. Each
    /// stays invisible to other receivers for the queue's visibility timeout.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError>;

    /// Deletes a received message, so it is not delivered again.
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;

    /// Sends any number of messages in batches of at most ten entries and one SQS message
    /// size in total; one result per message, in order. A batch whose call failed as a
    /// whole reports that failure on each of its entries.
    async fn send_many(&self, messages: &[Outgoing]) -> Vec<Result<String, EntryError>> {
        let mut results = Vec::with_capacity(messages.len());
        for chunk in batches(messages) {
            match self.send_batch(chunk).await {
                Ok(batch) => results.extend(batch),
                Err(e) => {
                    let message = error_chain(&e);
                    let failure = EntryError {
                        code: "RequestFailed".into(),
                        message,
                    };
                    results.extend(chunk.iter().map(|_| Err(failure.clone())));
                }
            }
        }
        results
    }
}

/// Splits `messages` into SQS batches: at most [`QUEUE_BATCH`] entries, and at most
/// [`MAX_QUEUE_MESSAGE_BYTES`] of bodies in total (SQS refuses a longer batch as a whole).
/// An oversized message travels alone, so only its own entry fails.
pub fn batches(messages: &[Outgoing]) -> Vec<&[Outgoing]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, message) in messages.iter().enumerate() {
        let len = message.body.len();
        let full = index - start == QUEUE_BATCH
            || (index > start && bytes + len > MAX_QUEUE_MESSAGE_BYTES);
        if full {
            out.push(&messages[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += len;
    }
    if start < messages.len() {
        out.push(&messages[start..]);
    }
    out
}

/// An error and its sources on one line, for logs and per-entry reports.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(messages: &[Outgoing]) -> Vec<usize> {
        batches(messages).iter().map(|b| b.len()).collect()
    }

    #[test]
    fn batches_hold_at_most_ten() {
        let messages = vec![Outgoing::now("x"); 25];
        assert_eq!(sizes(&messages), [10, 10, 5]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn batches_hold_at_most_one_message_size_in_total() {
        let half = Outgoing::now("x".repeat(MAX_QUEUE_MESSAGE_BYTES / 2));
        let over = Outgoing::now("x".repeat(MAX_QUEUE_MESSAGE_BYTES + 1));
        let small = Outgoing::now("y");
        let messages = [half.clone(), half.clone(), small.clone(), over, small];
        assert_eq!(sizes(&messages), [2, 1, 1, 1]);
    }
}
