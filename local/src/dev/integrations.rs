//! Adapters from the real Lambda entry points to the emulator's seams: the route handlers
//! as an [`Integration`], the fanout worker as a [`BatchFunction`].
//!
//! Both go through JSON, as in Lambda: the handlers' response is serialised and read
//! back as a proxy response, and the worker reads the SQS event from JSON with its own
//! lenient reader.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsBatchResponse;
use serde_json::Value;
use switchboard_fanout::Worker;
use switchboard_handlers::Handlers;

use crate::emulator::{Integration, IntegrationError, IntegrationResponse};
use crate::event_source::BatchFunction;

/// The three route handlers behind every route.
pub struct HandlersIntegration(pub Arc<Handlers>);

/// The fanout worker behind the event source.
pub struct WorkerFunction(pub Arc<Worker>);

#[async_trait]
impl Integration for HandlersIntegration {
    async fn invoke(&self, event: Value) -> Result<IntegrationResponse, IntegrationError> {
        let response = self.0.handle(event).await;
        let json = serde_json::to_value(&response)
            .map_err(|e| IntegrationError::Malformed(e.to_string()))?;
        IntegrationResponse::from_lambda_json(&json)
    }
}

#[async_trait]
impl BatchFunction for WorkerFunction {
    async fn invoke(&self, event: Value, deadline: Instant) -> Result<SqsBatchResponse, String> {
        self.0
            .handle(event, deadline)
            .await
            .map_err(|e| e.to_string())
    }
}
