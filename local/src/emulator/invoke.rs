//! One invocation of an integration, contained: a timeout like API Gateway's integration
//! timeout, and a panic caught and reported instead of taking the connection down.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use serde_json::Value;

use super::integration::{IntegrationResponse, SharedIntegration};

/// How an invocation ended.
#[derive(Debug)]
pub enum Outcome {
    /// The integration answered.
    Answered(IntegrationResponse),
    /// The integration failed, panicked, or answered with something unreadable.
    Failed(String),
    /// The integration did not answer within the timeout.
    TimedOut,
}

/// Invokes `integration` with `event`, waiting at most `timeout`.
pub async fn invoke(integration: &SharedIntegration, event: Value, timeout: Duration) -> Outcome {
    let call = AssertUnwindSafe(integration.invoke(event)).catch_unwind();
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Outcome::TimedOut,
        Ok(Err(panic)) => Outcome::Failed(panic_message(panic.as_ref())),
        Ok(Ok(Err(e))) => Outcome::Failed(e.to_string()),
        Ok(Ok(Ok(response))) => Outcome::Answered(response),
    }
}

/// The frame API Gateway sends a client when the integration behind its message failed.
pub fn error_frame(message: &str, connection_id: &str, request_id: &str) -> String {
    // Field order and spacing as API Gateway writes it; the ids are base64url, never
    // needing escapes, and `message` is one of a few fixed phrases.
    format!(
        "{{\"message\": \"{message}\", \"connectionId\":\"{connection_id}\", \
         \"requestId\":\"{request_id}\"}}"
    )
}

/// API Gateway's phrase for a failed integration.
pub const INTERNAL_SERVER_ERROR: &str = "Internal server error";
/// API Gateway's phrase for an integration that did not answer in time.
pub const TIMED_OUT: &str = "Endpoint request timed out";
/// API Gateway's phrase for a throttled request.
pub const TOO_MANY_REQUESTS: &str = "Too Many Requests";
/// API Gateway's phrase for a message that matched no route.
pub const FORBIDDEN: &str = "Forbidden";

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".into());
    format!("panicked: {text}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;
    use crate::emulator::integration::{Integration, IntegrationError};

    struct Panics;

    #[async_trait]
    impl Integration for Panics {
        async fn invoke(&self, _: Value) -> Result<IntegrationResponse, IntegrationError> {
            panic!("boom")
        }
    }

    struct Hangs;

    #[async_trait]
    impl Integration for Hangs {
        async fn invoke(&self, _: Value) -> Result<IntegrationResponse, IntegrationError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn panic_becomes_failure() {
        let integration: SharedIntegration = Arc::new(Panics);
        let outcome = invoke(&integration, Value::Null, Duration::from_secs(1)).await;
        assert!(matches!(outcome, Outcome::Failed(m) if m == "panicked: boom"));
    }

    #[tokio::test(start_paused = true)]
    async fn hang_times_out() {
        let integration: SharedIntegration = Arc::new(Hangs);
        let outcome = invoke(&integration, Value::Null, Duration::from_secs(29)).await;
        assert!(matches!(outcome, Outcome::TimedOut));
    }

    #[test]
    fn error_frame_is_api_gateways() {
        let frame = error_frame(INTERNAL_SERVER_ERROR, "L0SM9cOFvHcCIhw=", "abc=");
        let value: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(value["message"], "Internal server error");
        assert_eq!(value["connectionId"], "L0SM9cOFvHcCIhw=");
        assert_eq!(value["requestId"], "abc=");
    }
}
