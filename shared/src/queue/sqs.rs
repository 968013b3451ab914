//! The queue on SQS.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};

use super::{EntryError, IntentQueue, Outgoing, QueueError, Received};
use crate::limits::QUEUE_BATCH;

/// Intents on an SQS queue.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl IntentQueue for SqsQueue {
    async fn send(&self, message: Outgoing) -> Result<String, QueueError> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(message.body)
            .set_delay_seconds(message.delay.map(delay_secs))
            .send()
            .await
            .map_err(|e| {
                // A 400 is SQS refusing this message (size, delay, contents), not an outage.
                let refused = e.raw_response().is_some_and(|r| r.status().as_u16() == 400);
                match e.as_service_error() {
                    Some(se) if refused => QueueError::Rejected(EntryError {
                        code: se
                            .meta()
                            .code()
                            .unwrap_or("InvalidParameterValue")
                            .to_owned(),
                        message: se.meta().message().unwrap_or_default().to_owned(),
                    }),
                    _ => backend("SendMessage", e),
                }
            })?;
        Ok(out.message_id.unwrap_or_default())
    }

    async fn send_batch(
        &self,
        messages: &[Outgoing],
    ) -> Result<Vec<Result<String, EntryError>>, QueueError> {
        debug_assert!(messages.len() <= QUEUE_BATCH);
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let entries = messages
            .iter()
            .enumerate()
            .map(|(index, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(&m.body)
                    .set_delay_seconds(m.delay.map(delay_secs))
                    .build()
                    .expect("id and body are set")
            })
            .collect();
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| backend("SendMessageBatch", e))?;

        let mut results: Vec<Result<String, EntryError>> = messages
            .iter()
            .map(|_| {
                Err(EntryError {
                    code: "Missing".into(),
                    message: "no result for entry".into(),
                })
            })
            .collect();
        for ok in out.successful {
            if let Some(slot) = ok.id.parse::<usize>().ok().and_then(|i| results.get_mut(i)) {
                *slot = Ok(ok.message_id);
            }
        }
        for failed in out.failed {
            if let Some(slot) = failed
                .id
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                *slot = Err(EntryError {
                    code: failed.code,
                    message: failed.message.unwrap_or_default(),
                });
            }
        }
        Ok(results)
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let wait = i32::try_from(wait.as_secs().min(20)).unwrap_or(20);
        let max = i32::try_from(max.clamp(1, QUEUE_BATCH)).unwrap_or(10);
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| backend("ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attribute = |name: MessageSystemAttributeName| {
                    m.attributes
                        .as_ref()
                        .and_then(|a| a.get(&name))
                        .and_then(|v| v.parse().ok())
                };
                Received {
                    receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|n: i64| u32::try_from(n).ok())
                        .unwrap_or(1),
                    sent_at: attribute(MessageSystemAttributeName::SentTimestamp).unwrap_or(0),
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| backend("DeleteMessage", e))?;
        Ok(())
    }
}

fn delay_secs(delay: Duration) -> i32 {
    i32::try_from(delay.as_secs()).unwrap_or(i32::MAX)
}

fn backend<E, R>(operation: &'static str, e: SdkError<E, R>) -> QueueError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    QueueError::Backend {
        operation,
        source: DisplayErrorContext(e).to_string().into(),
    }
}
