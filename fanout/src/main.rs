//! The fanout worker Lambda: configuration and clients once, then one batch per call.

use std::process::ExitCode;
use std::sync::Arc;

use aws_lambda_events::sqs::SqsBatchResponse;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use switchboard::config::{Environment, FanoutConfig};
use switchboard::queue::SqsQueue;
use switchboard::store::DynamoStore;
use switchboard_fanout::{ManagementPoster, Worker, event};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(true)
        .without_time()
        .init();

    let config = match FanoutConfig::from_lookup(&Environment) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sdk = switchboard::aws::from_env().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table);
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &config.queue_url);
    let poster =
        ManagementPoster::new(&sdk, &config.websocket_endpoint, config.tuning.post_timeout);
    let worker = Worker::new(
        Arc::new(store),
        Arc::new(queue),
        Arc::new(poster),
        config.tuning,
        switchboard::clock::system(),
    );
    let worker = &worker;

    let handler = service_fn(move |call: LambdaEvent<Value>| async move {
        let deadline = event::answer_by(call.context.deadline());
        let response: SqsBatchResponse = worker.handle(call.payload, deadline).await?;
        Ok::<_, Error>(response)
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runtime stopped");
            ExitCode::FAILURE
        }
    }
}
