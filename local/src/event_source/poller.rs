//! One poller: receive a batch, invoke the function, delete what succeeded.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsBatchResponse;
use switchboard::queue::{Received, SharedQueue, error_chain};
use tokio::sync::watch;
use tracing::Instrument;

use super::{BatchFunction, EventSourceConfig, records};

/// Pause after a failed receive, so an unreachable queue is not hammered.
const RECEIVE_BACKOFF: Duration = Duration::from_secs(1);

/// One polling loop's dependencies.
pub struct Poller {
    /// Where batches come from.
    pub queue: SharedQueue,
    /// What handles them.
    pub function: Arc<dyn BatchFunction>,
    /// Mapping settings.
    pub config: Arc<EventSourceConfig>,
}

impl Poller {
    /// Polls until `stop` turns true; a batch in flight is finished first. A receive in
    /// progress is abandoned, which at worst leaves its messages invisible until their
    /// visibility timeout ends.
    pub async fn run(self, index: usize, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow_and_update() {
                return;
            }
            let batch = self.config.batch_size.clamp(1, 10);
            let received = tokio::select! {
                _ = stop.changed() => return,
                received = self.queue.receive(batch, self.config.wait) => received,
            };
            match received {
                Ok(messages) if messages.is_empty() => {}
                Ok(messages) => {
                    let span =
                        tracing::info_span!("batch", poller = index, records = messages.len());
                    self.invoke(messages).instrument(span).await;
                }
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "receive failed");
                    tokio::select! {
                        _ = stop.changed() => return,
                        () = tokio::time::sleep(RECEIVE_BACKOFF) => {}
                    }
                }
            }
        }
    }

    async fn invoke(&self, messages: Vec<Received>) {
        let now = chrono::Utc::now().timestamp_millis();
        let event = records::event(&messages, &self.config.queue_arn, &self.config.region, now);
        let timeout = self.config.function_timeout;
        let deadline = std::time::Instant::now() + timeout;
        let function = Arc::clone(&self.function);
        // Its own task, so a panic is contained and a stuck invocation can be abandoned.
        let mut task = tokio::spawn(async move { function.invoke(event, deadline).await });
        let response = match tokio::time::timeout(timeout, &mut task).await {
            Ok(Ok(Ok(response))) => response,
            Ok(Ok(Err(reason))) => {
                tracing::error!(%reason, "invocation failed; batch stays on the queue");
                return;
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "invocation panicked; batch stays on the queue");
                return;
            }
            Err(_) => {
                task.abort();
                tracing::error!("invocation timed out; batch stays on the queue");
                return;
            }
        };
        let Some(done) = succeeded(&messages, &response) else {
            tracing::warn!("batch response names unknown records; batch stays on the queue");
            return;
        };
        for message in done {
            if let Err(e) = self.queue.delete(&message.receipt_handle).await {
                tracing::warn!(
                    message_id = %message.message_id,
                    error = %error_chain(&e),
                    "delete failed; message will be redelivered"
                );
            }
        }
    }
}

/// The messages to delete under `ReportBatchItemFailures`: all but those listed. `None`
/// when an identifier is empty or names no message of the batch, which Lambda treats as
/// the whole batch failing.
pub fn succeeded<'a>(
    messages: &'a [Received],
    response: &SqsBatchResponse,
) -> Option<Vec<&'a Received>> {
    let ids: HashSet<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    let mut failed = HashSet::new();
    for failure in &response.batch_item_failures {
        let id = failure.item_identifier.as_str();
        if !ids.contains(id) {
            return None;
        }
        failed.insert(id);
    }
    Some(
        messages
            .iter()
            .filter(|m| !failed.contains(m.message_id.as_str()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::sqs::BatchItemFailure;

    use super::*;

    fn message(id: &str) -> Received {
        Received {
            message_id: id.into(),
            receipt_handle: format!("{id}#1"),
            body: String::new(),
            receive_count: 1,
            sent_at: 0,
        }
    }

    fn response(ids: &[&str]) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for id in ids {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = (*id).to_owned();
            response.batch_item_failures.push(failure);
        }
        response
    }

    #[test]
    fn listed_failures_are_kept_and_the_rest_deleted() {
        let messages = [message("a"), message("b"), message("c")];
        let done = succeeded(&messages, &response(&["b"])).unwrap();
        let ids: Vec<&str> = done.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
    }

    #[test]
    fn unknown_or_empty_identifier_fails_the_whole_batch() {
        let messages = [message("a")];
        assert!(succeeded(&messages, &response(&[""])).is_none());
        assert!(succeeded(&messages, &response(&["zzz"])).is_none());
    }
}
