//! The embedded stack: `switchboard dev` (emulator, handlers, worker, embedded store and
//! queue) started in a child process ([`crate::child`]), so its memory and CPU are its own.
//!
//! The child runs the same start function as the `switchboard dev` command. The parent
//! talks to it over WebSocket like any client, and publishes through the child's stdin
//! (`publish <intent>`), which enqueues the intent on the embedded queue as a backend's
//! `SendMessage` would.

use std::time::Duration;

use switchboard::clock::{self, Clock as _};
use switchboard::config::SessionConfig;
use switchboard::queue::Outgoing;
use switchboard_local::dev::{self, DEV_SECRET, DevOptions};
use switchboard_local::emulator::ThrottleConfig;
use switchboard_local::token::{self, TokenRequest};

use crate::BenchError;
use crate::child::{self, Child};

/// The stage the stack serves.
pub const STAGE: &str = "bench";

/// How the stack is started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StackOptions {
    /// Seconds a connection has to authenticate. Benchmarks that keep unauthenticated
    /// connections open past 30 s raise it, so no close intent lands mid-measurement.
    pub auth_timeout_secs: u64,
    /// The stage throttle: API Gateway's account default unless a scenario needs more
    /// headroom to set up quickly.
    pub throttle: ThrottleConfig,
}

/// The parent's handle on a stack child.
pub struct Stack {
    child: Child,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            auth_timeout_secs: 900,
            throttle: ThrottleConfig::default(),
        }
    }
}

impl StackOptions {
    /// A stage throttle high enough never to refuse a benchmark's set-up.
    pub fn unthrottled() -> Self {
        Self {
            throttle: ThrottleConfig {
                rate: 1.0e6,
                burst: 1_000_000,
            },
            ..Self::default()
        }
    }

    fn to_args(self) -> Vec<String> {
        vec![
            self.auth_timeout_secs.to_string(),
            self.throttle.rate.to_string(),
            self.throttle.burst.to_string(),
        ]
    }

    /// Reads what [`Self::to_args`] wrote.
    pub fn from_args(args: &[String]) -> Result<Self, BenchError> {
        let bad = || BenchError::Failed(format!("stack options {args:?}"));
        let [timeout, rate, burst] = args else {
            return Err(bad());
        };
        Ok(Self {
            auth_timeout_secs: timeout.parse().map_err(|_| bad())?,
            throttle: ThrottleConfig {
                rate: rate.parse().map_err(|_| bad())?,
                burst: burst.parse().map_err(|_| bad())?,
            },
        })
    }
}

impl Stack {
    /// Starts a stack child.
    pub async fn start(options: StackOptions) -> Result<Self, BenchError> {
        let child = Child::spawn("stack", &options.to_args()).await?;
        Ok(Self { child })
    }

    /// `ws://127.0.0.1:{port}/bench`.
    pub fn url(&self) -> &str {
        self.child.address()
    }

    /// The child process, for its CPU time and memory.
    pub fn child(&self) -> &Child {
        &self.child
    }

    /// Enqueues `intent` on the stack's queue.
    pub async fn publish(&mut self, intent: &str) -> Result<(), BenchError> {
        let answer = self.child.ask(&format!("publish {intent}")).await?;
        if answer == "ok" {
            Ok(())
        } else {
            Err(BenchError::Failed(format!("publish: {answer}")))
        }
    }

    /// Stops the child.
    pub async fn stop(self) {
        self.child.stop().await;
    }
}

/// The child side: starts `switchboard dev`'s service in this process, then serves
/// `publish` commands until stdin closes.
pub async fn run_child(options: StackOptions) -> Result<(), BenchError> {
    let session = SessionConfig {
        auth_timeout: Duration::from_secs(options.auth_timeout_secs),
        ..SessionConfig::default()
    };
    let dev = DevOptions {
        port: 0,
        stage: STAGE.into(),
        session,
        throttle: options.throttle,
        ..DevOptions::default()
    };
    let server = dev::start(dev)
        .await
        .map_err(|e| BenchError::Failed(format!("switchboard dev: {e}")))?;
    let queue = server.queue();
    let result = child::serve(&server.websocket_url, |command| {
        let queue = queue.clone();
        async move {
            match command.split_once(' ') {
                Some(("publish", intent)) => match queue.send(Outgoing::now(intent)).await {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => format!("error {e}"),
                },
                _ => format!("unknown command {command:?}"),
            }
        }
    })
    .await;
    server.shutdown().await;
    result
}

/// A token for `user`, valid for an hour, signed with the development secret that
/// `switchboard dev` verifies with when no key is configured.
pub fn token(user: &str) -> String {
    let request = TokenRequest {
        user: user.to_owned(),
        tenant: None,
        email: None,
        ttl: Duration::from_secs(3_600),
        tenant_claim: "tenant_id".into(),
        issuer: None,
        audience: None,
    };
    let now = clock::SystemClock.now_secs();
    token::mint(&request, DEV_SECRET.as_bytes(), now).unwrap_or_default()
}
