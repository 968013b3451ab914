//! Lambda's SQS event source, in-process: pollers receive batches from the intent queue,
//! hand each to a function as an SQS event, and delete the records the function did not
//! report failed.
//!
//! - [`records`]: SQS records as Lambda builds them from received messages.
//! - [`poller`]: one polling loop and the partial-batch-response rules.
//!
//! What is kept from Lambda: batches of up to ten, a fixed number of concurrent pollers,
//! the function timeout as the invocation's deadline, `ReportBatchItemFailures` (listed
//! records stay on the queue; an unknown or empty identifier fails the whole batch), and
//! a failed, panicking or timed-out invocation deleting nothing, so the queue's visibility
//! timeout and redrive policy decide what happens next.

pub mod poller;
pub mod records;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsBatchResponse;
use serde_json::Value;
use switchboard::queue::SharedQueue;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A function invoked with SQS batches, as Lambda invokes one.
#[async_trait]
pub trait BatchFunction: Send + Sync + 'static {
    /// Handles the SQS event `event` (JSON, as Lambda delivers it), answering by
    /// `deadline`. `Err` is a failed invocation: the whole batch is retried.
    async fn invoke(&self, event: Value, deadline: Instant) -> Result<SqsBatchResponse, String>;
}

/// Event source mapping settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceConfig {
    /// Records per batch, 1 to 10.
    pub batch_size: usize,
    /// Concurrent pollers, each with at most one batch in flight.
    pub pollers: usize,
    /// Longest a receive waits for the first message (SQS long polling, at most 20 s).
    pub wait: Duration,
    /// The function's timeout: its deadline, and when a stuck invocation is abandoned.
    /// Keep it below the queue's visibility timeout, as Lambda requires.
    pub function_timeout: Duration,
    /// `eventSourceARN` of the records.
    pub queue_arn: String,
    /// `awsRegion` of the records.
    pub region: String,
}

impl Default for EventSourceConfig {
    fn default() -> Self {
        Self {
            batch_size: 10,
            pollers: 2,
            wait: Duration::from_secs(5),
            function_timeout: Duration::from_secs(25),
            queue_arn: "arn:aws:sqs:us-east-1:000000000000:switchboard-intents".into(),
            region: "us-east-1".into(),
        }
    }
}

/// Running pollers.
pub struct EventSource {
    stop: watch::Sender<bool>,
    pollers: JoinSet<()>,
}

impl EventSource {
    /// Starts `config.pollers` pollers feeding `function` from `queue`.
    pub fn start(
        queue: SharedQueue,
        function: Arc<dyn BatchFunction>,
        config: EventSourceConfig,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let config = Arc::new(config);
        let mut pollers = JoinSet::new();
        for index in 0..config.pollers.max(1) {
            let poller = poller::Poller {
                queue: Arc::clone(&queue),
                function: Arc::clone(&function),
                config: Arc::clone(&config),
            };
            pollers.spawn(poller.run(index, stopped.clone()));
        }
        Self { stop, pollers }
    }

    /// Stops receiving and waits for the batches in flight to finish.
    pub async fn drain(mut self) {
        self.stop.send_replace(true);
        while let Some(result) = self.pollers.join_next().await {
            if let Err(e) = result {
                tracing::error!(error = %e, "poller task failed");
            }
        }
    }
}
