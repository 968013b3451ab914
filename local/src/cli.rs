//! The command line: `switchboard dev` and `switchboard token`. Every flag has an
//! environment variable, shared with the Lambda configuration where one exists.

use std::net::IpAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use switchboard::config::{AuthConfig, ConfigError, FanoutTuning, Lookup, SessionConfig, vars};
use switchboard::limits::{MAX_CONNECTION_SECS, MAX_QUEUE_DELAY_SECS};
use switchboard::provision::QueueSettings;

use crate::dev::backend::{self, AwsBackend, BackendChoice, DEFAULT_TABLE_NAME};
use crate::dev::{DEV_SECRET, DevOptions};
use crate::emulator::ThrottleConfig;
use crate::publish::PublishArgs;
use crate::token::{self, TokenRequest};

/// Switchboard on your machine.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole service locally behind an API Gateway WebSocket emulator.
    Dev(DevArgs),
    /// Print a development token (HS256) for the configured or development secret.
    Token(TokenArgs),
    /// Publish an intent: to INTENTS_QUEUE_URL through the AWS credential chain, or to a
    /// running `switchboard dev` with --dev.
    Publish(PublishArgs),
}

/// `switchboard dev` flags.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Port for the WebSocket endpoint and the Management API.
    #[arg(long, env = "SWITCHBOARD_PORT", default_value_t = 3001)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "SWITCHBOARD_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Stage name: ws://127.0.0.1:{port}/{stage}.
    #[arg(long, env = "SWITCHBOARD_STAGE", default_value = "dev")]
    pub stage: String,
    /// Seconds a new connection has to authenticate.
    #[arg(long, env = vars::AUTH_TIMEOUT_SECS, default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=MAX_QUEUE_DELAY_SECS))]
    pub auth_timeout: u64,
    /// Seconds without a client message before a connection is closed.
    #[arg(long, env = vars::IDLE_TIMEOUT_SECS, default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=MAX_CONNECTION_SECS))]
    pub idle_timeout: u64,
    /// Seconds after which any connection is closed.
    #[arg(long, env = "SWITCHBOARD_MAX_CONNECTION_SECS", default_value_t = MAX_CONNECTION_SECS,
          value_parser = clap::value_parser!(u64).range(1..=MAX_CONNECTION_SECS))]
    pub max_duration: u64,
    /// Stage throttle: requests per second ($connect and messages).
    #[arg(long, env = "SWITCHBOARD_THROTTLE_RATE", default_value_t = 10_000.0)]
    pub throttle_rate: f64,
    /// Stage throttle: burst (bucket size).
    #[arg(long, env = "SWITCHBOARD_THROTTLE_BURST", default_value_t = 5_000)]
    pub throttle_burst: u32,
    /// DynamoDB connections table; with --queue-url (or --create), DynamoDB and SQS at the
    /// SDK's endpoint (AWS_ENDPOINT_URL…) replace the embedded store and queue.
    #[arg(long, env = vars::CONNECTIONS_TABLE)]
    pub table: Option<String>,
    /// SQS intents queue URL.
    #[arg(long, env = vars::INTENTS_QUEUE_URL)]
    pub queue_url: Option<String>,
    /// Create the table and queue (with its dead-letter queue) if missing.
    #[arg(long, env = "SWITCHBOARD_CREATE")]
    pub create: bool,
    /// Seconds a received intent stays hidden before it is retried (embedded or created
    /// queue).
    #[arg(long, env = "SWITCHBOARD_VISIBILITY_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=43_200))]
    pub visibility_timeout: u64,
    /// Receives after which an intent moves to the dead-letter queue (embedded or created
    /// queue).
    #[arg(long, env = "SWITCHBOARD_MAX_RECEIVES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub max_receives: u32,
    /// Seconds an invocation of the fanout worker may run: its deadline, as the Lambda
    /// function timeout is. At most the visibility timeout, as Lambda requires.
    #[arg(long, env = "SWITCHBOARD_FUNCTION_TIMEOUT_SECS", default_value_t = 25,
          value_parser = clap::value_parser!(u64).range(1..=900))]
    pub function_timeout: u64,
    /// Records per batch handed to the fanout worker, as the event source's batch size.
    #[arg(long, env = "SWITCHBOARD_BATCH_SIZE", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=10))]
    pub batch_size: u16,
}

/// `switchboard token` flags.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user id (`sub`).
    #[arg(long)]
    pub user: String,
    /// A tenant to grant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// An `email` claim.
    #[arg(long)]
    pub email: Option<String>,
    /// Lifetime: 90s, 15m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = token::parse_ttl)]
    pub ttl: Duration,
    /// HS256 secret; the development secret when unset.
    #[arg(long, env = vars::JWT_SECRET, hide_env_values = true)]
    pub secret: Option<String>,
}

/// A lookup that answers `JWT_SECRET` with the development secret when no key source
/// is configured, so the rest of the auth settings (`TENANT_CLAIM`, `JWT_ISSUER`, …) still
/// come from the environment.
struct DevSecretDefault<'a>(&'a dyn Lookup);

impl Lookup for DevSecretDefault<'_> {
    fn var(&self, name: &str) -> Option<String> {
        let configured = [vars::JWT_SECRET, vars::JWT_SECRET_ARN, vars::JWKS_URL]
            .iter()
            .any(|v| self.0.var(v).is_some());
        match self.0.var(name) {
            None if name == vars::JWT_SECRET && !configured => Some(DEV_SECRET.into()),
            value => value,
        }
    }
}

impl DevArgs {
    /// The options these flags and `env` describe. AWS settings are read here too, so a
    /// bad value fails before anything starts.
    pub async fn options(&self, env: &dyn Lookup) -> Result<DevOptions, ConfigError> {
        if !(self.throttle_rate.is_finite() && self.throttle_rate >= 0.0) {
            return Err(ConfigError {
                name: "SWITCHBOARD_THROTTLE_RATE",
                problem: format!("{} is not a rate", self.throttle_rate),
            });
        }
        if !valid_stage(&self.stage) {
            return Err(ConfigError {
                name: "SWITCHBOARD_STAGE",
                problem: format!(
                    "{:?} is not a stage name: use 1 to 128 letters, digits, '-' or '_'",
                    self.stage
                ),
            });
        }
        let tuning = FanoutTuning::from_lookup(env)?;
        let function_timeout = Duration::from_secs(self.function_timeout);
        let shortest = switchboard_fanout::worker::shortest_timeout(&tuning);
        if function_timeout < shortest {
            return Err(ConfigError {
                name: "SWITCHBOARD_FUNCTION_TIMEOUT_SECS",
                problem: format!(
                    "{} s leaves the worker no time to post with a {} ms post timeout; \
                     use at least {} s",
                    self.function_timeout,
                    tuning.post_timeout.as_millis(),
                    shortest.as_secs_f64().ceil()
                ),
            });
        }
        if self.visibility_timeout < self.function_timeout {
            return Err(ConfigError {
                name: "SWITCHBOARD_VISIBILITY_TIMEOUT_SECS",
                problem: format!(
                    "{} s is shorter than the function timeout ({} s): a batch would be \
                     received again while it still runs",
                    self.visibility_timeout, self.function_timeout
                ),
            });
        }
        let auth = AuthConfig::from_lookup(&DevSecretDefault(env))?;
        let backend = if self.table.is_some() || self.queue_url.is_some() || self.create {
            let table = match (&self.table, self.create) {
                (Some(table), _) => table.clone(),
                (None, true) => DEFAULT_TABLE_NAME.into(),
                (None, false) => switchboard::config::required(env, vars::CONNECTIONS_TABLE)?,
            };
            BackendChoice::Aws(Box::new(AwsBackend {
                sdk: backend::sdk_config(env).await,
                table,
                queue_url: self.queue_url.clone(),
                create: self.create,
            }))
        } else {
            BackendChoice::Embedded
        };
        Ok(DevOptions {
            bind: self.bind,
            port: self.port,
            stage: self.stage.clone(),
            session: SessionConfig {
                auth_timeout: Duration::from_secs(self.auth_timeout),
                idle_timeout: Duration::from_secs(self.idle_timeout),
            },
            max_duration: Duration::from_secs(self.max_duration),
            throttle: ThrottleConfig {
                rate: self.throttle_rate,
                burst: self.throttle_burst,
            },
            auth,
            backend,
            tuning,
            pollers: 2,
            batch_size: usize::from(self.batch_size),
            function_timeout,
            queue: QueueSettings {
                visibility_timeout: Duration::from_secs(self.visibility_timeout),
                max_receive_count: self.max_receives,
            },
        })
    }
}

/// Whether `stage` is a name API Gateway accepts for a stage, and so a safe path segment.
fn valid_stage(stage: &str) -> bool {
    (1..=128).contains(&stage.len())
        && stage
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl TokenArgs {
    /// Mints the token these flags describe, reading `TENANT_CLAIM`, `JWT_ISSUER` and
    /// `JWT_AUDIENCE` from `env` so it matches what the server checks.
    pub fn mint(&self, env: &dyn Lookup, now_secs: i64) -> Result<String, token::TokenError> {
        let secret = self.secret.clone().unwrap_or_else(|| DEV_SECRET.into());
        let request = TokenRequest {
            user: self.user.clone(),
            tenant: self.tenant.clone(),
            email: self.email.clone(),
            ttl: self.ttl,
            tenant_claim: env
                .var(vars::TENANT_CLAIM)
                .unwrap_or_else(|| "tenant_id".into()),
            issuer: env.var(vars::JWT_ISSUER),
            audience: env.var(vars::JWT_AUDIENCE),
        };
        token::mint(&request, secret.as_bytes(), now_secs)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use switchboard::config::SecretSource;

    use super::*;

    fn dev(args: &[&str]) -> DevArgs {
        let argv = ["switchboard", "dev"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Dev(dev) => dev,
            _ => unreachable!("parsed as dev"),
        }
    }

    #[tokio::test]
    async fn defaults_are_api_gateways_and_the_dev_secret() {
        let env: HashMap<&str, &str> = HashMap::new();
        let options = dev(&[]).options(&env).await.unwrap();
        assert_eq!(options.port, 3001);
        assert_eq!(options.stage, "dev");
        assert_eq!(options.session.idle_timeout, Duration::from_secs(600));
        assert_eq!(options.max_duration, Duration::from_secs(7200));
        assert!(options.uses_dev_secret());
        assert!(matches!(options.backend, BackendChoice::Embedded));
    }

    #[tokio::test]
    async fn configured_secret_replaces_the_dev_secret() {
        let env = HashMap::from([(vars::JWT_SECRET, "mine")]);
        let options = dev(&[]).options(&env).await.unwrap();
        assert_eq!(
            options.auth.secret,
            Some(SecretSource::Inline("mine".into()))
        );
        assert!(!options.uses_dev_secret());
    }

    #[tokio::test]
    async fn table_without_queue_selects_aws_and_create_names_defaults() {
        let env: HashMap<&str, &str> = HashMap::new();
        let options = dev(&["--create"]).options(&env).await.unwrap();
        let BackendChoice::Aws(aws) = options.backend else {
            panic!("expected the AWS backend");
        };
        assert_eq!(aws.table, DEFAULT_TABLE_NAME);
        assert!(aws.create);
    }

    #[tokio::test]
    async fn function_timeout_must_fit_the_post_timeout_and_the_visibility_timeout() {
        let env: HashMap<&str, &str> = HashMap::new();
        let short = dev(&["--function-timeout", "5"]).options(&env).await;
        assert_eq!(
            short.unwrap_err().name,
            "SWITCHBOARD_FUNCTION_TIMEOUT_SECS",
            "5 s cannot hold two 3 s post timeouts"
        );
        let fast = HashMap::from([("FANOUT_POST_TIMEOUT_MS", "500")]);
        let options = dev(&["--function-timeout", "5", "--visibility-timeout", "5"])
            .options(&fast)
            .await
            .unwrap();
        assert_eq!(options.function_timeout, Duration::from_secs(5));

        let overlapping = dev(&["--visibility-timeout", "20"]).options(&env).await;
        assert_eq!(
            overlapping.unwrap_err().name,
            "SWITCHBOARD_VISIBILITY_TIMEOUT_SECS"
        );
    }

    #[tokio::test]
    async fn stage_must_be_a_plain_path_segment() {
        let env: HashMap<&str, &str> = HashMap::new();
        for stage in ["", "a{b", "*x", "{x}", "dév", "a/b"] {
            let refused = dev(&["--stage", stage]).options(&env).await;
            assert_eq!(refused.unwrap_err().name, "SWITCHBOARD_STAGE", "{stage:?}");
        }
        let options = dev(&["--stage", "prod_2-b"]).options(&env).await.unwrap();
        assert_eq!(options.stage, "prod_2-b");
    }

    #[test]
    fn idle_timeout_above_two_hours_is_refused() {
        let argv = ["switchboard", "dev", "--idle-timeout", "7201"];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn token_flags_parse() {
        let argv = [
            "switchboard",
            "token",
            "--user",
            "u1",
            "--tenant",
            "acme",
            "--ttl",
            "2h",
        ];
        let Command::Token(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("expected token");
        };
        assert_eq!(args.ttl, Duration::from_secs(7200));
        assert_eq!(args.tenant.as_deref(), Some("acme"));
    }
}
