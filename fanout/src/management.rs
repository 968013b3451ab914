//! [`ManagementPoster`]: the Management API through `aws-sdk-apigatewaymanagement`.
//!
//! One client per container, on one HTTP connection pool, so that a warm worker reuses
//! its TLS connections across posts and invocations. The SDK's own retries are off: the
//! worker retries with its own budget and turns what still fails into a retry intent,
//! which the SDK cannot know how to do.
//!
//! Each call runs as a task of its own. An invocation's delivery is one future, so without
//! that every post's client-side work (serialising, signing, interceptors, parsing the
//! answer), which costs several times the socket write, would share one thread however
//! many vCPUs the function has.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::StalledStreamProtectionConfig;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::poster::{PostOutcome, Poster};

/// How long an idle pooled connection is kept. Shorter than the idle limits of the load
/// balancers in front of the Management API, so the pool drops a socket before the server
/// side does and a post rarely lands on a half-closed connection.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Posts to connections through the API Gateway Management API.
#[derive(Debug, Clone)]
pub struct ManagementPoster {
    client: Client,
}

/// Hands the SDK the same connector whatever settings it asks with, so every request
/// shares one pool. The SDK's default client keeps a pool per distinct timeout setting;
/// ours are fixed at build time, so one is enough.
#[derive(Debug)]
struct OnePool(SharedHttpConnector);

impl ManagementPoster {
    /// A poster for the stage at `endpoint`, the `WEBSOCKET_ENDPOINT` form
    /// `https://{api}.execute-api.{region}.amazonaws.com/{stage}`.
    ///
    /// The stage path is kept: the SDK appends `/@connections/{id}` to it. Each call is
    /// bounded by `timeout`, connection set-up included; the SDK does not retry.
    pub fn new(sdk: &SdkConfig, endpoint: &str, timeout: Duration) -> Self {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(timeout)
            .operation_attempt_timeout(timeout)
            .operation_timeout(timeout)
            .build();
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint.trim_end_matches('/'))
            .http_client(http_client(timeout))
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts)
            // It watches streamed bodies for stalls; a post is a few KB sent at once and
            // bounded by the timeouts above, so the watch would only cost work per call.
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }
}

#[async_trait]
impl Poster for ManagementPoster {
    async fn post(&self, connection_id: &str, frame: &[u8]) -> PostOutcome {
        let call = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(frame))
            .send();
        match tokio::spawn(call).await {
            Ok(Ok(_)) => PostOutcome::Delivered,
            Ok(Err(e)) => classify(&e),
            Err(e) => PostOutcome::Failed(format!("post task ended abnormally: {e}")),
        }
    }

    async fn delete(&self, connection_id: &str) -> PostOutcome {
        let sent = self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await;
        match sent {
            Ok(_) => PostOutcome::Delivered,
            Err(e) => classify(&e),
        }
    }
}

impl HttpClient for OnePool {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.clone()
    }
}

/// The HTTP client: keep-alive pooling, `TCP_NODELAY` so a small post is not held back
/// behind an unacknowledged one, rustls on aws-lc like every other SDK client here.
fn http_client(connect_timeout: Duration) -> SharedHttpClient {
    let settings = HttpConnectorSettings::builder()
        .connect_timeout(connect_timeout)
        .build();
    let connector = Connector::builder()
        .enable_tcp_nodelay(true)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .connector_settings(settings)
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .build();
    SharedHttpClient::new(OnePool(SharedHttpConnector::new(connector)))
}

/// Maps a failed call to an outcome by HTTP status, which is what the Management API
/// documents; the modelled error types add nothing the status does not say.
fn classify<E>(error: &SdkError<E, HttpResponse>) -> PostOutcome
where
    E: std::error::Error + 'static,
{
    let status = error.raw_response().map(|r| r.status().as_u16());
    match status {
        Some(410) => PostOutcome::Gone,
        Some(429) => PostOutcome::Throttled,
        Some(413) => PostOutcome::PayloadTooLarge,
        Some(403) => PostOutcome::Forbidden,
        Some(400..=499) => PostOutcome::Refused(DisplayErrorContext(error).to_string()),
        _ => PostOutcome::Failed(DisplayErrorContext(error).to_string()),
    }
}
