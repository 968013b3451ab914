//! Feeds a worker from a queue the way Lambda's SQS event source does: batches of up to
//! ten, several batches in flight at once, failed records left for redelivery.
//!
//! The worker runs on a thread of its own with a single-threaded runtime. That matches a
//! Lambda function of 512 MB, which gets about a third of a vCPU, and the CPU it uses is
//! easy to tell from the emulator's. It is also required: the compiler cannot prove the
//! worker's future `Send` through the higher-ranked lifetimes of its internals, so it
//! cannot be handed to `tokio::spawn` on a multi-threaded runtime.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::future::join_all;
use switchboard::queue::{Received, SharedQueue};
use switchboard_fanout::Worker;
use switchboard_fanout::testing::{event, message};
use tokio::sync::watch;

use crate::BenchError;

/// Records per batch, as Lambda's SQS source delivers at most.
const BATCH: usize = 10;
/// How long one receive waits for a message (SQS long polling, shortened).
const WAIT: Duration = Duration::from_millis(200);
/// The deadline each batch gets, like a Lambda timeout.
const INVOCATION: Duration = Duration::from_secs(60);

/// Pollers feeding one worker until stopped.
pub struct EventSource {
    stop: watch::Sender<bool>,
    thread: JoinHandle<()>,
}

impl EventSource {
    /// Starts `pollers` concurrent receive-process-delete loops on a thread of their own.
    /// Lambda starts an SQS source at five concurrent batches.
    pub fn start(
        queue: SharedQueue,
        worker: Arc<Worker>,
        pollers: usize,
    ) -> Result<Self, BenchError> {
        let (stop, stopped) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(BenchError::io("building the worker's runtime"))?;
        let thread = std::thread::Builder::new()
            .name("event-source".into())
            .spawn(move || {
                let loops = (0..pollers.max(1))
                    .map(|_| poll(queue.clone(), worker.clone(), stopped.clone()));
                runtime.block_on(join_all(loops));
            })
            .map_err(BenchError::io("starting the worker's thread"))?;
        Ok(Self { stop, thread })
    }

    /// Stops polling; batches in progress finish first.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

async fn poll(queue: SharedQueue, worker: Arc<Worker>, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        let received = tokio::select! {
            _ = stopped.changed() => break,
            received = queue.receive(BATCH, WAIT) => received,
        };
        let received = match received {
            Ok(received) if !received.is_empty() => received,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "receive failed");
                tokio::time::sleep(WAIT).await;
                continue;
            }
        };
        let records = received.iter().map(record).collect();
        let response = worker
            .process(event(records), Instant::now() + INVOCATION)
            .await;
        for done in &received {
            let failed = response
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == done.message_id);
            if !failed {
                let _ = queue.delete(&done.receipt_handle).await;
            }
        }
    }
}

fn record(received: &Received) -> aws_lambda_events::sqs::SqsMessage {
    let mut record = message(&received.message_id, &received.body, received.receive_count);
    record
        .attributes
        .insert("SentTimestamp".to_owned(), received.sent_at.to_string());
    record.receipt_handle = Some(received.receipt_handle.clone());
    record
}
