//! The embedded stack: the API Gateway emulator, the three route handlers, the fanout
//! worker, the embedded store and queue, wired the way `switchboard dev` wires them, run
//! as a child process ([`crate::child`]) so its memory and CPU are its own.
//!
//! The parent talks to it over WebSocket like any client, and publishes through the
//! child's stdin (`publish <intent>`), which enqueues the intent on the embedded queue as
//! a backend's `SendMessage` would.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use switchboard::auth::Verifier;
use switchboard::clock::{self, Clock as _};
use switchboard::config::{FanoutTuning, HandlerConfig};
use switchboard::metrics::Metrics;
use switchboard::queue::{MemoryQueue, MemoryQueueConfig, Outgoing, SharedQueue};
use switchboard::store::{MemoryStore, SharedStore};
use switchboard_fanout::testing::sdk_config;
use switchboard_fanout::{ManagementPoster, Worker};
use switchboard_handlers::Handlers;
use switchboard_local::emulator::routes::{CONNECT, DEFAULT, DISCONNECT};
use switchboard_local::emulator::{
    Emulator, EmulatorConfig, Integration, IntegrationError, IntegrationResponse, RouteTable,
    ThrottleConfig,
};
use tokio::net::TcpListener;

use crate::BenchError;
use crate::child::{self, Child};
use crate::source::EventSource;

/// The stage the stack serves.
pub const STAGE: &str = "bench";

/// The HS256 secret the stack verifies tokens with; the clients sign with it.
pub const JWT_SECRET: &str = "switchboard-bench-secret-not-for-production";

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

/// The route handlers as an emulator integration, the same JSON in and out as in Lambda.
struct HandlerRoute(Arc<Handlers>);

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

/// The child side: builds the stack, then serves `publish` commands until stdin closes.
pub async fn run_child(options: StackOptions) -> Result<(), BenchError> {
    let store: SharedStore = Arc::new(MemoryStore::new());
    let queue: SharedQueue = MemoryQueue::new(MemoryQueueConfig::default());
    let handlers = Arc::new(handlers(&store, &queue, options)?);
    let route = || -> Arc<dyn Integration> { Arc::new(HandlerRoute(Arc::clone(&handlers))) };
    let routes = RouteTable::new("action")
        .route(CONNECT, route())
        .route(DISCONNECT, route())
        .route(DEFAULT, route());
    let config = EmulatorConfig {
        stage: STAGE.into(),
        throttle: options.throttle,
        ..EmulatorConfig::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(BenchError::io("binding the emulator"))?;
    let emulator = Emulator::new(config, routes, clock::system())
        .serve(listener)
        .map_err(BenchError::io("starting the emulator"))?;

    let tuning = FanoutTuning::default();
    let poster = ManagementPoster::new(
        &sdk_config().await,
        &emulator.management_url(),
        tuning.post_timeout,
    );
    let worker = Worker::new(
        store,
        queue.clone(),
        Arc::new(poster),
        tuning,
        clock::system(),
    )
    .with_metrics(Metrics::disabled());
    let source = EventSource::start(queue.clone(), Arc::new(worker), crate::pipeline::POLLERS)?;

    let result = child::serve(&emulator.websocket_url(), |command| {
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
    source.stop().await;
    result
}

/// Handlers configured as the Lambda binaries would be from these variables.
fn handlers(
    store: &SharedStore,
    queue: &SharedQueue,
    options: StackOptions,
) -> Result<Handlers, BenchError> {
    let timeout = options.auth_timeout_secs.to_string();
    let env: HashMap<&str, &str> = HashMap::from([
        ("CONNECTIONS_TABLE", "connections"),
        ("INTENTS_QUEUE_URL", "embedded"),
        ("JWT_SECRET", JWT_SECRET),
        ("AUTH_TIMEOUT_SECS", timeout.as_str()),
    ]);
    let config =
        HandlerConfig::from_lookup(&env).map_err(|e| BenchError::Failed(e.to_string()))?;
    let verifier = Verifier::new(&config.auth, Some(JWT_SECRET.as_bytes()))
        .map_err(|e| BenchError::Failed(e.to_string()))?;
    Ok(Handlers::new(
        store.clone(),
        queue.clone(),
        Arc::new(verifier),
        config.session,
        clock::system(),
    )
    .with_metrics(Metrics::disabled()))
}

#[async_trait]
impl Integration for HandlerRoute {
    async fn invoke(&self, event: Value) -> Result<IntegrationResponse, IntegrationError> {
        let response = self.0.handle(event).await;
        let value =
            serde_json::to_value(&response).map_err(|e| IntegrationError::Failed(e.to_string()))?;
        IntegrationResponse::from_lambda_json(&value)
    }
}

/// A token for `user`, valid for an hour, signed with [`JWT_SECRET`].
pub fn token(user: &str) -> String {
    let exp = clock::SystemClock.now_secs() + 3_600;
    let claims = serde_json::json!({ "sub": user, "exp": exp });
    jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes())
        .and_then(|key| jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key))
        .unwrap_or_default()
}
