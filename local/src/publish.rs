//! `switchboard publish`: one intent from the command line, the way any backend sends one.
//!
//! Exit codes a script can rely on: 0 published (the message id on stdout), 2 a usage
//! error or an invalid intent (nothing sent), 3 the queue refused it or could not be
//! reached.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use serde_json::value::RawValue;
use switchboard::config::{Lookup, vars};
use switchboard::intent::{Intent, Target};
use switchboard::publish::{PublishError, Publisher};

use crate::dev::backend::DEFAULT_QUEUE_NAME;

/// Where `--dev` without a URL publishes.
pub const DEFAULT_DEV_URL: &str = "http://127.0.0.1:3001";

/// `switchboard publish` flags.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Who receives it: user:<id>, tenant:<id>, connection:<id> or all.
    #[arg(long, value_parser = |s: &str| s.parse::<Target>())]
    pub to: Target,
    /// With a user: target, only the user's connections in this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// A connection id to leave out; repeat for more.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Your message id, for tracing and de-duplication.
    #[arg(long)]
    pub id: Option<String>,
    /// Read the data (JSON) from this file.
    #[arg(long, conflicts_with = "data")]
    pub file: Option<PathBuf>,
    /// The data, any JSON, delivered verbatim; `-` or nothing reads standard input.
    pub data: Option<String>,
    /// Publish to a running `switchboard dev` at URL (default http://127.0.0.1:3001).
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = DEFAULT_DEV_URL)]
    pub dev: Option<String>,
    /// The SQS queue to publish to; with --dev, the dev server's queue is looked up.
    #[arg(long, env = vars::INTENTS_QUEUE_URL)]
    pub queue_url: Option<String>,
    /// With --dev, the name of the dev server's queue (its SQS queue's name when it runs on
    /// DynamoDB and SQS).
    #[arg(long, default_value = DEFAULT_QUEUE_NAME, requires = "dev")]
    pub queue_name: String,
}

/// Why nothing was published.
#[derive(Debug, thiserror::Error)]
pub enum PublishFailure {
    /// The command line or the data is wrong.
    #[error("{0}")]
    Usage(String),
    /// The intent breaks the contract.
    #[error("{0}")]
    Invalid(PublishError),
    /// The queue refused the intent or could not be reached.
    #[error("{0}")]
    Send(String),
}

impl PublishFailure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            PublishFailure::Usage(_) | PublishFailure::Invalid(_) => 2,
            PublishFailure::Send(_) => 3,
        }
    }
}

impl PublishArgs {
    /// Builds, validates and sends the intent; returns the queue's message id.
    pub async fn run(&self, env: &dyn Lookup, stdin: impl Read) -> Result<String, PublishFailure> {
        // Before stdin is read: `--dev '{"a":1}'` takes the data for the URL and would
        // otherwise wait for input that never comes.
        if let Some(dev) = self.dev.as_deref()
            && !(dev.starts_with("http://") || dev.starts_with("https://"))
        {
            return Err(PublishFailure::Usage(format!(
                "--dev takes the dev server's URL, such as {DEFAULT_DEV_URL}, and got {dev:?}; \
                 write --dev=URL, or put --dev before the other flags"
            )));
        }
        let intent = self.intent(stdin)?;
        // Checked before any network call, so a bad intent fails the same way offline.
        intent
            .validate()
            .map_err(|e| PublishFailure::Invalid(e.into()))?;
        let (client, queue_url) = self.queue(env).await?;
        Publisher::sqs(client, queue_url)
            .publish(&intent)
            .await
            .map_err(|e| match e {
                PublishError::Invalid(_) => PublishFailure::Invalid(e),
                other => PublishFailure::Send(switchboard::queue::error_chain(&other)),
            })
    }

    fn intent(&self, mut stdin: impl Read) -> Result<Intent, PublishFailure> {
        let text = match (&self.file, self.data.as_deref()) {
            (Some(path), _) => std::fs::read_to_string(path).map_err(|e| {
                PublishFailure::Usage(format!("cannot read {}: {e}", path.display()))
            })?,
            (None, Some(data)) if data != "-" => data.to_owned(),
            (None, _) => {
                let mut text = String::new();
                stdin
                    .read_to_string(&mut text)
                    .map_err(|e| PublishFailure::Usage(format!("cannot read stdin: {e}")))?;
                text
            }
        };
        let data: Box<RawValue> = serde_json::from_str(text.trim())
            .map_err(|e| PublishFailure::Usage(format!("data is not valid JSON: {e}")))?;
        let mut intent = Intent::new(self.to.clone(), data).excluding(self.exclude.clone());
        if let Some(tenant) = &self.tenant {
            intent = intent.in_tenant(tenant);
        }
        if let Some(id) = &self.id {
            intent = intent.with_id(id);
        }
        Ok(intent)
    }

    async fn queue(
        &self,
        env: &dyn Lookup,
    ) -> Result<(aws_sdk_sqs::Client, String), PublishFailure> {
        if let Some(dev) = &self.dev {
            let sdk = switchboard::aws::for_endpoint(dev).await;
            let client = aws_sdk_sqs::Client::new(&sdk);
            if let Some(url) = &self.queue_url {
                return Ok((client, url.clone()));
            }
            let found = client
                .get_queue_url()
                .queue_name(&self.queue_name)
                .send()
                .await;
            let url = found
                .map_err(|e| {
                    let detail = aws_sdk_sqs::error::DisplayErrorContext(e);
                    PublishFailure::Send(format!("no switchboard dev answering at {dev}: {detail}"))
                })?
                .queue_url
                .unwrap_or_default();
            return Ok((client, url));
        }
        let url = self
            .queue_url
            .clone()
            .or_else(|| env.var(vars::INTENTS_QUEUE_URL))
            .ok_or_else(|| {
                PublishFailure::Usage(format!(
                    "{}: must be set, or pass --queue-url, or --dev for a local server",
                    vars::INTENTS_QUEUE_URL
                ))
            })?;
        let sdk = switchboard::aws::from_env().await;
        Ok((aws_sdk_sqs::Client::new(&sdk), url))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> PublishArgs {
        let argv = ["switchboard", "publish"].iter().chain(argv);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Publish(args) => args,
            _ => unreachable!("parsed as publish"),
        }
    }

    #[test]
    fn builds_the_intent_from_flags_and_argument() {
        let a = args(&[
            "--to",
            "user:u1",
            "--tenant",
            "acme",
            "--exclude",
            "c1",
            "--id",
            "m1",
            r#"{"t": 1}"#,
        ]);
        let intent = a.intent(std::io::empty()).unwrap();
        assert_eq!(
            intent.to_body().unwrap(),
            r#"{"v":1,"to":"user:u1","data":{"t": 1},"tenant":"acme","exclude":["c1"],"id":"m1"}"#
        );
    }

    #[test]
    fn reads_data_from_stdin() {
        let intent = args(&["--to", "all", "-"])
            .intent(&b" [1,2]\n"[..])
            .unwrap();
        assert_eq!(intent.frame(), Some("[1,2]"));
    }

    #[test]
    fn bad_target_is_a_usage_error() {
        let argv = ["switchboard", "publish", "--to", "room:1", "{}"];
        let err = Cli::try_parse_from(argv).unwrap_err();
        assert!(
            err.to_string().contains("invalid target \"room:1\""),
            "{err}"
        );
    }

    #[tokio::test]
    async fn invalid_data_and_intents_exit_2_before_sending() {
        let env: HashMap<&str, &str> = HashMap::new();
        let not_json = args(&["--to", "all", "{nope"])
            .run(&env, std::io::empty())
            .await;
        let err = not_json.unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().starts_with("data is not valid JSON"),
            "{err}"
        );

        let tenant_on_all = args(&["--to", "all", "--tenant", "t", "1"])
            .run(&env, std::io::empty())
            .await;
        let err = tenant_on_all.unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "invalid intent: \"tenant\" only applies to a user: target"
        );
    }

    #[tokio::test]
    async fn empty_tenant_or_id_and_a_dev_value_that_is_no_url_exit_2() {
        let env: HashMap<&str, &str> = HashMap::new();
        for argv in [
            &["--to", "user:u1", "--tenant", "", "{}"][..],
            &["--to", "all", "--id", "", "{}"],
            &["--dev", "notaurl", "--to", "all", "{}"],
        ] {
            let err = args(argv).run(&env, std::io::empty()).await.unwrap_err();
            assert_eq!(err.exit_code(), 2, "{argv:?}: {err}");
        }
    }

    #[tokio::test]
    async fn missing_queue_is_named() {
        let env: HashMap<&str, &str> = HashMap::new();
        let err = args(&["--to", "all", "1"])
            .run(&env, std::io::empty())
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .starts_with("INTENTS_QUEUE_URL: must be set"),
            "{err}"
        );
    }
}
