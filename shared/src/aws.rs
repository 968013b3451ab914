//! AWS SDK configuration shared by every binary and test.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

/// Region used when none is configured, as for a local endpoint.
pub const DEFAULT_REGION: &str = "us-east-1";

/// SDK configuration from the environment: region, credential chain, and the endpoint
/// variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS`).
pub async fn from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// SDK configuration for a local endpoint such as moto: fixed dummy credentials and the
/// default region, so tests depend on nothing in the developer's environment.
pub async fn for_endpoint(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(DEFAULT_REGION))
        .credentials_provider(Credentials::for_tests())
        .load()
        .await
}

/// Dummy credentials, for endpoints that accept any signature (moto, the local emulator).
pub fn dummy_credentials() -> Credentials {
    Credentials::for_tests()
}
