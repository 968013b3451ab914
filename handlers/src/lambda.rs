//! Start-up of the three Lambda binaries: tracing, configuration, clients, runtime.
//!
//! Everything here runs once per execution environment (the cold start); each event then
//! costs only [`Handlers::handle`]. Only `$default` verifies tokens, so only it reads the
//! HS256 secret from Secrets Manager and only its role may read the secret.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use switchboard::auth::{AuthError, Verifier};
use switchboard::clock;
use switchboard::config::{ConfigError, Environment, HandlerConfig, SecretSource};
use switchboard::metrics::Metrics;
use switchboard::queue::SqsQueue;
use switchboard::store::DynamoStore;

use crate::Handlers;

/// Which route a binary serves; decides what it needs at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `$connect`.
    Connect,
    /// `$disconnect`.
    Disconnect,
    /// `$default`: the only route that verifies tokens.
    Default,
}

/// Why a binary could not start or its runtime stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A configuration variable is missing or invalid; the message names it.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HS256 secret could not be read from Secrets Manager.
    #[error("JWT_SECRET_ARN: reading secret {arn} failed: {reason}")]
    Secret {
        /// The secret's ARN.
        arn: String,
        /// What went wrong, causes included.
        reason: String,
    },
    /// The verifier rejected its configuration.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The Lambda runtime stopped with an error.
    #[error("lambda runtime: {0}")]
    Runtime(lambda_runtime::Error),
}

/// Runs the handler for `route` until the runtime stops. The binary prints the error.
pub async fn run(route: Route) -> Result<(), StartupError> {
    init_tracing();
    let config = HandlerConfig::from_lookup(&Environment)?;
    let sdk = switchboard::aws::from_env().await;

    let secret = match (route, &config.auth.secret) {
        (Route::Default, Some(SecretSource::Inline(secret))) => Some(secret.clone()),
        (Route::Default, Some(SecretSource::SecretsManager(arn))) => {
            Some(read_secret(&sdk, arn).await?)
        }
        _ => None,
    };
    let verifier = Verifier::new(&config.auth, secret.as_deref().map(str::as_bytes))?;

    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table);
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &config.queue_url);
    let handlers = Arc::new(
        Handlers::new(
            Arc::new(store),
            Arc::new(queue),
            Arc::new(verifier),
            config.session,
            clock::system(),
        )
        .with_metrics(Metrics::from_env()),
    );
    tracing::info!(?route, table = %config.table, "handler ready");

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handlers = Arc::clone(&handlers);
        async move { Ok::<_, Infallible>(handlers.handle(event.payload).await) }
    }))
    .await
    .map_err(StartupError::Runtime)
}

/// Reads the HS256 secret once; its value is never logged.
async fn read_secret(sdk: &aws_config::SdkConfig, arn: &str) -> Result<String, StartupError> {
    let failed = |reason: String| StartupError::Secret {
        arn: arn.to_owned(),
        reason,
    };
    let output = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| failed(switchboard::queue::error_chain(&e)))?;
    output
        .secret_string()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| failed("the secret has no SecretString".into()))
}

/// JSON lines in Lambda (CloudWatch parses them), plain text elsewhere. The level comes
/// from `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL`, else `info`.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;

    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_default();
            EnvFilter::try_new(level.to_lowercase())
        })
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // Already installed (a test harness, say): keep that subscriber.
    drop(result);
}
