//! AWS SDK configuration shared by every binary and test.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use crate::config::{Environment, Lookup};

/// Region used when none is configured, as for a local endpoint.
pub const DEFAULT_REGION: &str = "us-east-1";

/// SDK configuration from the environment: region, credentials, and the endpoint
/// variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS`).
///
/// Lambda hands a function its role's keys as environment variables. When they are there,
/// they are used directly: the default chain would first build an STS client for web
/// identity, and with it a TLS connector that reads the whole OS trust store, which was
/// most of a handler's cold start. Elsewhere (a developer's profile, SSO, an instance
/// role) the default chain applies.
pub async fn from_env() -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    let loader = if has_key_pair(&Environment) {
        loader.credentials_provider(EnvironmentVariableCredentialsProvider::new())
    } else {
        loader
    };
    loader.load().await
}

/// Whether `env` holds an access key and its secret.
fn has_key_pair(env: &dyn Lookup) -> bool {
    env.var("AWS_ACCESS_KEY_ID").is_some() && env.var("AWS_SECRET_ACCESS_KEY").is_some()
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::has_key_pair;

    #[test]
    fn keys_in_the_environment_are_used_only_as_a_pair() {
        let both = HashMap::from([
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        assert!(has_key_pair(&both));
        let id_only = HashMap::from([("AWS_ACCESS_KEY_ID", "AKID")]);
        assert!(!has_key_pair(&id_only));
        let secret_only = HashMap::from([("AWS_SECRET_ACCESS_KEY", "s")]);
        assert!(!has_key_pair(&secret_only));
        assert!(!has_key_pair(&HashMap::<&str, &str>::new()));
    }
}
