//! The integration behind a route: what API Gateway would invoke, usually a Lambda.
//!
//! The emulator hands an integration the event as JSON, exactly as API Gateway would send
//! it to Lambda, and reads back a Lambda proxy response. An `Err` stands for a failed
//! invocation (the function threw, timed out or could not run); a panic is treated the
//! same way. Either one gives the client API Gateway's `Internal server error` frame.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

/// A route's backend.
#[async_trait]
pub trait Integration: Send + Sync + 'static {
    /// Handles one event and answers as a Lambda proxy integration would.
    async fn invoke(&self, event: Value) -> Result<IntegrationResponse, IntegrationError>;
}

/// A shareable integration handle.
pub type SharedIntegration = Arc<dyn Integration>;

/// What a Lambda proxy integration answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationResponse {
    /// HTTP status; for `$connect`, anything but 2xx refuses the handshake with it.
    pub status: u16,
    /// Response headers; on `$connect` they are added to the handshake response, which
    /// is how a handler selects a `Sec-WebSocket-Protocol`.
    pub headers: Vec<(String, String)>,
    /// The body. Ignored on message routes: Switchboard configures no route responses.
    pub body: Option<String>,
}

/// An invocation that failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    /// The integration reported a failure.
    #[error("integration failed: {0}")]
    Failed(String),
    /// The answer was not a Lambda proxy response.
    #[error("integration answered with a malformed response: {0}")]
    Malformed(String),
}

impl IntegrationResponse {
    /// A response with `status` and nothing else.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Whether API Gateway would treat the status as success.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Reads a Lambda proxy response (`statusCode`, `headers`, `body`) as API Gateway does.
    /// A missing `statusCode` is 200, as API Gateway assumes for WebSocket routes.
    pub fn from_lambda_json(value: &Value) -> Result<Self, IntegrationError> {
        let Value::Object(map) = value else {
            return Err(IntegrationError::Malformed("not a JSON object".into()));
        };
        let status = match map.get("statusCode") {
            None | Some(Value::Null) => 200,
            Some(code) => code
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (100..600).contains(c))
                .ok_or_else(|| IntegrationError::Malformed(format!("statusCode {code}")))?,
        };
        let headers = map
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let body = map.get("body").and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lambda_response_is_read() {
        let value = json!({
            "statusCode": 401,
            "headers": {"Sec-WebSocket-Protocol": "v1"},
            "body": "{\"message\":\"no\"}",
            "isBase64Encoded": false
        });
        let response = IntegrationResponse::from_lambda_json(&value).unwrap();
        assert_eq!(response.status, 401);
        assert_eq!(
            response.headers,
            vec![("Sec-WebSocket-Protocol".to_owned(), "v1".to_owned())]
        );
        assert_eq!(response.body.as_deref(), Some("{\"message\":\"no\"}"));
        assert!(!response.is_success());
    }

    #[test]
    fn missing_status_is_success() {
        let response = IntegrationResponse::from_lambda_json(&json!({})).unwrap();
        assert_eq!(response, IntegrationResponse::status(200));
    }

    #[test]
    fn nonsense_status_is_malformed() {
        let e = IntegrationResponse::from_lambda_json(&json!({"statusCode": 7})).unwrap_err();
        assert!(matches!(e, IntegrationError::Malformed(_)));
    }
}
