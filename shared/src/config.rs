//! Configuration from environment variables, in Lambda and locally alike.
//!
//! Every value is read through a [`Lookup`], so tests pass a map instead of mutating the
//! process environment. A missing or invalid value is one [`ConfigError`] naming the
//! variable, which binaries print as a single line before exiting.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use crate::limits::{MAX_CONNECTION_SECS, MAX_QUEUE_DELAY_SECS};

/// Variable names, defined once.
pub mod vars {
    /// DynamoDB table of connection records.
    pub const CONNECTIONS_TABLE: &str = "CONNECTIONS_TABLE";
    /// SQS queue URL of message intents.
    pub const INTENTS_QUEUE_URL: &str = "INTENTS_QUEUE_URL";
    /// Management API base: `https://{api}.execute-api.{region}.amazonaws.com/{stage}`.
    pub const WEBSOCKET_ENDPOINT: &str = "WEBSOCKET_ENDPOINT";
    /// HS256 secret, inline. For local use; in AWS use [`JWT_SECRET_ARN`].
    pub const JWT_SECRET: &str = "JWT_SECRET";
    /// Secrets Manager ARN whose `SecretString` is the HS256 secret.
    pub const JWT_SECRET_ARN: &str = "JWT_SECRET_ARN";
    /// JWKS document URL for RS256, PS256 and ES256 keys.
    pub const JWKS_URL: &str = "JWKS_URL";
    /// Required `iss`, when set.
    pub const JWT_ISSUER: &str = "JWT_ISSUER";
    /// Required `aud`, when set.
    pub const JWT_AUDIENCE: &str = "JWT_AUDIENCE";
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub const JWT_LEEWAY_SECS: &str = "JWT_LEEWAY_SECS";
    /// Claim holding the tenants a token grants (string or array).
    pub const TENANT_CLAIM: &str = "TENANT_CLAIM";
    /// Seconds a new connection has to authenticate.
    pub const AUTH_TIMEOUT_SECS: &str = "AUTH_TIMEOUT_SECS";
    /// Seconds an authenticated connection lives without activity.
    pub const IDLE_TIMEOUT_SECS: &str = "IDLE_TIMEOUT_SECS";
    /// Posts in flight at once per worker invocation.
    pub const FANOUT_CONCURRENCY: &str = "FANOUT_CONCURRENCY";
    /// Scan segments a broadcast to everyone is split into.
    pub const FANOUT_SEGMENTS: &str = "FANOUT_SEGMENTS";
    /// Rows read per store page.
    pub const FANOUT_PAGE_SIZE: &str = "FANOUT_PAGE_SIZE";
    /// Connections one invocation delivers before continuing in a new intent.
    pub const FANOUT_MAX_PER_INVOCATION: &str = "FANOUT_MAX_PER_INVOCATION";
    /// Delivery attempts per connection before an intent is dead-lettered.
    pub const FANOUT_MAX_ATTEMPTS: &str = "FANOUT_MAX_ATTEMPTS";
    /// Timeout of one Management API call, in milliseconds.
    pub const FANOUT_POST_TIMEOUT_MS: &str = "FANOUT_POST_TIMEOUT_MS";
}

/// Where configuration values come from.
pub trait Lookup {
    /// The value of `name`, or `None` when unset or empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct Environment;

impl Lookup for Environment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Lookup for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

impl Lookup for HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| (*v).to_owned())
    }
}

/// A missing or invalid configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    /// The variable at fault.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// How an HS256 secret is supplied.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The secret itself, from `JWT_SECRET`.
    Inline(String),
    /// A Secrets Manager ARN, from `JWT_SECRET_ARN`, read once at start-up.
    SecretsManager(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(<redacted>)"),
            SecretSource::SecretsManager(arn) => {
                f.debug_tuple("SecretsManager").field(arn).finish()
            }
        }
    }
}

/// How tokens are verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// HS256 secret, if configured.
    pub secret: Option<SecretSource>,
    /// JWKS URL for asymmetric keys, if configured.
    pub jwks_url: Option<String>,
    /// Required issuer.
    pub issuer: Option<String>,
    /// Required audience; tokens without `aud` are refused when set.
    pub audience: Option<String>,
    /// Claim naming the tenants a token grants. Default `tenant_id`.
    pub tenant_claim: String,
    /// Skew allowed on `exp` and `nbf`. Default 5 s.
    pub leeway: Duration,
}

/// Connection lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Time a new connection has to authenticate. Default 30 s, at most 900 (SQS's longest
    /// delay, which carries the deadline check).
    pub auth_timeout: Duration,
    /// Time an authenticated connection lives without activity. Default 600 s, at most 7200.
    pub idle_timeout: Duration,
}

/// Everything the three route handlers need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerConfig {
    /// Connection records table.
    pub table: String,
    /// Intents queue URL.
    pub queue_url: String,
    /// Connection lifetimes.
    pub session: SessionConfig,
    /// Token verification.
    pub auth: AuthConfig,
}

/// Everything the fanout worker needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutConfig {
    /// Connection records table.
    pub table: String,
    /// Intents queue URL, for continuations and retries.
    pub queue_url: String,
    /// Management API base URL, stage path included.
    pub websocket_endpoint: String,
    /// Worker tuning.
    pub tuning: FanoutTuning,
}

/// Worker tuning, with defaults that suit one Lambda of 512 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutTuning {
    /// Posts in flight at once. Default 64.
    pub concurrency: usize,
    /// Scan segments for a broadcast to everyone. Default 8.
    pub segments: u32,
    /// Rows per store page. Default 500.
    pub page_size: usize,
    /// Rows one record reads (pages × page size, live or not) before the rest continues
    /// in a new intent. Default 10,000.
    pub max_per_invocation: usize,
    /// Attempts per connection before the intent is dead-lettered. Default 5.
    pub max_attempts: u32,
    /// Timeout of one Management API call. Default 3 s.
    pub post_timeout: Duration,
}

impl Default for AuthConfig {
    /// No key source (which [`AuthConfig::from_lookup`] refuses), the `tenant_id` claim,
    /// and 5 s of leeway: a base for tests and for local setups that add a key.
    fn default() -> Self {
        Self {
            secret: None,
            jwks_url: None,
            issuer: None,
            audience: None,
            tenant_claim: "tenant_id".into(),
            leeway: Duration::from_secs(5),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            auth_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
        }
    }
}

impl Default for FanoutTuning {
    fn default() -> Self {
        Self {
            concurrency: 64,
            segments: 8,
            page_size: 500,
            max_per_invocation: 10_000,
            max_attempts: 5,
            post_timeout: Duration::from_secs(3),
        }
    }
}

impl HandlerConfig {
    /// Reads the handlers' configuration.
    pub fn from_lookup(env: &dyn Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            table: required(env, vars::CONNECTIONS_TABLE)?,
            queue_url: required(env, vars::INTENTS_QUEUE_URL)?,
            session: SessionConfig::from_lookup(env)?,
            auth: AuthConfig::from_lookup(env)?,
        })
    }
}

impl SessionConfig {
    /// Reads connection lifetimes, applying defaults.
    pub fn from_lookup(env: &dyn Lookup) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            // The deadline check is an SQS message delayed by this long, and SQS delays
            // stop at 15 minutes.
            auth_timeout: secs(
                env,
                vars::AUTH_TIMEOUT_SECS,
                defaults.auth_timeout,
                1,
                MAX_QUEUE_DELAY_SECS,
            )?,
            idle_timeout: secs(
                env,
                vars::IDLE_TIMEOUT_SECS,
                defaults.idle_timeout,
                1,
                MAX_CONNECTION_SECS,
            )?,
        })
    }
}

impl AuthConfig {
    /// Reads token verification settings. At least one key source must be configured.
    pub fn from_lookup(env: &dyn Lookup) -> Result<Self, ConfigError> {
        let secret = match (env.var(vars::JWT_SECRET), env.var(vars::JWT_SECRET_ARN)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    name: vars::JWT_SECRET_ARN,
                    problem: format!("set either {} or this, not both", vars::JWT_SECRET),
                });
            }
            (Some(secret), None) => Some(SecretSource::Inline(secret)),
            (None, Some(arn)) => Some(SecretSource::SecretsManager(arn)),
            (None, None) => None,
        };
        let jwks_url = env.var(vars::JWKS_URL);
        if let Some(url) = &jwks_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError {
                name: vars::JWKS_URL,
                problem: format!("{url:?} is not a URL"),
            });
        }
        if secret.is_none() && jwks_url.is_none() {
            return Err(ConfigError {
                name: vars::JWT_SECRET,
                problem: format!(
                    "no key to verify tokens with: set {}, {} or {}",
                    vars::JWT_SECRET,
                    vars::JWT_SECRET_ARN,
                    vars::JWKS_URL
                ),
            });
        }
        Ok(Self {
            secret,
            jwks_url,
            issuer: env.var(vars::JWT_ISSUER),
            audience: env.var(vars::JWT_AUDIENCE),
            tenant_claim: env
                .var(vars::TENANT_CLAIM)
                .unwrap_or_else(|| "tenant_id".into()),
            leeway: secs(env, vars::JWT_LEEWAY_SECS, Duration::from_secs(5), 0, 300)?,
        })
    }
}

impl FanoutConfig {
    /// Reads the worker's configuration.
    pub fn from_lookup(env: &dyn Lookup) -> Result<Self, ConfigError> {
        let endpoint = required(env, vars::WEBSOCKET_ENDPOINT)?;
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(ConfigError {
                name: vars::WEBSOCKET_ENDPOINT,
                problem: format!("{endpoint:?} is not an http(s) URL"),
            });
        }
        Ok(Self {
            table: required(env, vars::CONNECTIONS_TABLE)?,
            queue_url: required(env, vars::INTENTS_QUEUE_URL)?,
            websocket_endpoint: endpoint.trim_end_matches('/').to_owned(),
            tuning: FanoutTuning::from_lookup(env)?,
        })
    }
}

impl FanoutTuning {
    /// Reads worker tuning, applying defaults.
    pub fn from_lookup(env: &dyn Lookup) -> Result<Self, ConfigError> {
        let d = Self::default();
        let timeout_ms = number(env, vars::FANOUT_POST_TIMEOUT_MS, 3_000u64, 10, 60_000)?;
        Ok(Self {
            concurrency: number(env, vars::FANOUT_CONCURRENCY, d.concurrency, 1, 1_000)?,
            segments: number(env, vars::FANOUT_SEGMENTS, d.segments, 1, 1_000)?,
            page_size: number(env, vars::FANOUT_PAGE_SIZE, d.page_size, 1, 10_000)?,
            max_per_invocation: number(
                env,
                vars::FANOUT_MAX_PER_INVOCATION,
                d.max_per_invocation,
                1,
                10_000_000,
            )?,
            max_attempts: number(env, vars::FANOUT_MAX_ATTEMPTS, d.max_attempts, 1, 100)?,
            post_timeout: Duration::from_millis(timeout_ms),
        })
    }
}

/// The value of a variable that must be set.
pub fn required(env: &dyn Lookup, name: &'static str) -> Result<String, ConfigError> {
    env.var(name).ok_or_else(|| ConfigError {
        name,
        problem: "must be set".into(),
    })
}

/// A number within `min..=max`, or `default` when unset.
pub fn number<T>(
    env: &dyn Lookup,
    name: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    let Some(raw) = env.var(name) else {
        return Ok(default);
    };
    let value: T = raw.trim().parse().map_err(|_| ConfigError {
        name,
        problem: format!("{raw:?} is not a whole number"),
    })?;
    if value < min || value > max {
        return Err(ConfigError {
            name,
            problem: format!("{value} is outside {min}..={max}"),
        });
    }
    Ok(value)
}

/// A whole number of seconds within `min..=max`, or `default` when unset.
pub fn secs(
    env: &dyn Lookup,
    name: &'static str,
    default: Duration,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    number(env, name, default.as_secs(), min, max).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    const BASE: [(&str, &str); 3] = [
        (vars::CONNECTIONS_TABLE, "t"),
        (vars::INTENTS_QUEUE_URL, "http://q"),
        (vars::JWT_SECRET, "s"),
    ];

    #[test]
    fn handler_config_applies_defaults() {
        let config = HandlerConfig::from_lookup(&env(&BASE)).unwrap();
        assert_eq!(config.session, SessionConfig::default());
        assert_eq!(config.auth.tenant_claim, "tenant_id");
        assert_eq!(config.auth.leeway, Duration::from_secs(5));
        assert_eq!(config.auth.secret, Some(SecretSource::Inline("s".into())));
    }

    #[test]
    fn missing_variable_is_named() {
        let e = HandlerConfig::from_lookup(&env(&BASE[1..])).unwrap_err();
        assert_eq!(e.to_string(), "CONNECTIONS_TABLE: must be set");
    }

    #[test]
    fn idle_timeout_above_two_hours_is_rejected() {
        let mut vars = env(&BASE);
        vars.insert(vars::IDLE_TIMEOUT_SECS, "7201");
        let e = HandlerConfig::from_lookup(&vars).unwrap_err();
        assert_eq!(e.name, vars::IDLE_TIMEOUT_SECS);
        vars.insert(vars::IDLE_TIMEOUT_SECS, "7200");
        let config = HandlerConfig::from_lookup(&vars).unwrap();
        assert_eq!(config.session.idle_timeout, Duration::from_secs(7200));
    }

    #[test]
    fn auth_timeout_beyond_the_longest_queue_delay_is_rejected() {
        let mut vars = env(&BASE);
        vars.insert(vars::AUTH_TIMEOUT_SECS, "901");
        let e = HandlerConfig::from_lookup(&vars).unwrap_err();
        assert_eq!(e.to_string(), "AUTH_TIMEOUT_SECS: 901 is outside 1..=900");
    }

    #[test]
    fn non_numeric_value_is_named() {
        let mut vars = env(&BASE);
        vars.insert(vars::AUTH_TIMEOUT_SECS, "30s");
        let e = HandlerConfig::from_lookup(&vars).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AUTH_TIMEOUT_SECS: \"30s\" is not a whole number"
        );
    }

    #[test]
    fn auth_needs_a_key_and_at_most_one_secret() {
        let e = HandlerConfig::from_lookup(&env(&BASE[..2])).unwrap_err();
        assert_eq!(e.name, vars::JWT_SECRET);
        let mut vars = env(&BASE);
        vars.insert(vars::JWT_SECRET_ARN, "arn:aws:secretsmanager:x");
        assert_eq!(
            HandlerConfig::from_lookup(&vars).unwrap_err().name,
            vars::JWT_SECRET_ARN
        );
    }

    #[test]
    fn fanout_endpoint_must_be_a_url() {
        let mut vars = env(&BASE[..2]);
        vars.insert(vars::WEBSOCKET_ENDPOINT, "abc.execute-api");
        assert_eq!(
            FanoutConfig::from_lookup(&vars).unwrap_err().name,
            vars::WEBSOCKET_ENDPOINT
        );
        vars.insert(vars::WEBSOCKET_ENDPOINT, "https://abc.execute-api.x/prod/");
        let config = FanoutConfig::from_lookup(&vars).unwrap();
        assert_eq!(config.websocket_endpoint, "https://abc.execute-api.x/prod");
        assert_eq!(config.tuning, FanoutTuning::default());
    }
}
