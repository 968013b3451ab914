//! Publishing intents from a backend: build, validate, send.
//!
//! ```no_run
//! # use switchboard::queue::SharedQueue;
//! # async fn example(queue: SharedQueue) -> Result<(), Box<dyn std::error::Error>> {
//! use switchboard::intent::{Intent, Target};
//! use switchboard::publish::Publisher;
//!
//! let publisher = Publisher::new(queue);
//! let intent = Intent::json(Target::User("u1".into()), &serde_json::json!({"text": "hi"}))?
//!     .in_tenant("acme")
//!     .with_id("order-42-shipped");
//! publisher.publish(&intent).await?;
//! # Ok(()) }
//! ```
//!
//! SQS accepts any body, so a bad intent would otherwise surface only in the dead-letter
//! queue; validating here turns it into an error at the call site.

use crate::intent::{Intent, IntentError};
use crate::queue::{EntryError, Outgoing, QueueError, SharedQueue, SqsQueue};

/// Why an intent was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The intent breaks the contract; nothing was sent.
    #[error("invalid intent: {0}")]
    Invalid(IntentError),
    /// The queue refused this message.
    #[error("the queue refused the intent: {0}")]
    Refused(EntryError),
    /// The queue could not be reached or failed.
    #[error("could not reach the intents queue")]
    Queue(#[source] QueueError),
}

// Not `#[from]`: the message above already shows the intent error, and a source would
// repeat it in every logged error chain.
impl From<IntentError> for PublishError {
    fn from(e: IntentError) -> Self {
        PublishError::Invalid(e)
    }
}

/// Sends intents to the queue the fanout worker reads.
#[derive(Clone)]
pub struct Publisher {
    queue: SharedQueue,
}

impl Publisher {
    /// A publisher on any intent queue.
    pub fn new(queue: SharedQueue) -> Self {
        Self { queue }
    }

    /// A publisher on the SQS queue at `queue_url`.
    pub fn sqs(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self::new(std::sync::Arc::new(SqsQueue::new(client, queue_url)))
    }

    /// Validates and sends one intent; returns the queue's message id.
    pub async fn publish(&self, intent: &Intent) -> Result<String, PublishError> {
        let body = checked_body(intent)?;
        self.queue
            .send(Outgoing::now(body))
            .await
            .map_err(|e| match e {
                QueueError::Rejected(entry) => PublishError::Refused(entry),
                other => PublishError::Queue(other),
            })
    }

    /// Validates and sends many intents in SQS batches; one result per intent, in order.
    /// Invalid intents are reported without being sent; the valid ones still go.
    pub async fn publish_many(&self, intents: &[Intent]) -> Vec<Result<String, PublishError>> {
        let checked: Vec<Result<String, PublishError>> = intents.iter().map(checked_body).collect();
        let outgoing: Vec<Outgoing> = checked
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .map(|b| Outgoing::now(b.clone()))
            .collect();
        let mut sent = self.queue.send_many(&outgoing).await.into_iter();
        checked
            .into_iter()
            .map(|c| {
                c.and_then(|_| {
                    sent.next()
                        .unwrap_or_else(|| {
                            Err(EntryError {
                                code: "Missing".into(),
                                message: "no result".into(),
                            })
                        })
                        .map_err(PublishError::Refused)
                })
            })
            .collect()
    }
}

fn checked_body(intent: &Intent) -> Result<String, PublishError> {
    intent.validate()?;
    Ok(intent.to_body()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::Target;
    use crate::limits::MAX_MESSAGE_BYTES;
    use crate::queue::{IntentQueue, MemoryQueue, MemoryQueueConfig};
    use serde_json::json;
    use std::time::Duration;

    fn setup() -> (Publisher, std::sync::Arc<MemoryQueue>) {
        let queue = MemoryQueue::new(MemoryQueueConfig::default());
        (Publisher::new(queue.clone()), queue)
    }

    #[tokio::test]
    async fn publishes_a_valid_intent_verbatim() {
        let (publisher, queue) = setup();
        let intent = Intent::json(Target::Tenant("acme".into()), &json!({"t": 1}))
            .unwrap()
            .excluding(["c1".to_owned()])
            .with_id("m1");
        publisher.publish(&intent).await.unwrap();
        let got = queue.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(
            got[0].body,
            r#"{"v":1,"to":"tenant:acme","data":{"t":1},"exclude":["c1"],"id":"m1"}"#
        );
    }

    #[tokio::test]
    async fn refuses_an_oversized_frame_before_sending() {
        let (publisher, queue) = setup();
        let big = "x".repeat(MAX_MESSAGE_BYTES - 1);
        let intent = Intent::json(Target::All, &big).unwrap();
        let err = publisher.publish(&intent).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid intent: frame is 131073 bytes; API Gateway delivers at most 131072"
        );
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn publish_many_sends_the_valid_and_reports_the_invalid() {
        let (publisher, queue) = setup();
        let ok = Intent::json(Target::User("u1".into()), &1).unwrap();
        let bad = Intent::json(Target::All, &1).unwrap().in_tenant("acme");
        let results = publisher.publish_many(&[ok.clone(), bad, ok]).await;
        assert!(results[0].is_ok() && results[2].is_ok());
        assert!(matches!(
            results[1],
            Err(PublishError::Invalid(IntentError::TenantWithoutUser))
        ));
        assert_eq!(queue.len(), 2);
    }
}
