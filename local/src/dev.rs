//! `switchboard dev`: the whole service in one process.
//!
//! - [`backend`]: the store and queue, embedded or on DynamoDB and SQS.
//! - [`integrations`]: the handlers and the worker behind the emulator's seams.
//!
//! The handlers sit behind every route of the emulator. The fanout worker is fed by the
//! in-process event source and posts through the real AWS SDK client to the emulator's own
//! Management API over HTTP, so the path from intent to socket is the one taken in AWS.

pub mod backend;
pub mod integrations;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use switchboard::auth::{AuthError, Verifier};
use switchboard::clock::{self, SharedClock};
use switchboard::config::{AuthConfig, FanoutTuning, SecretSource, SessionConfig};
use switchboard::limits::MAX_CONNECTION_SECS;
use switchboard::metrics::Metrics;
use switchboard::provision::QueueSettings;
use switchboard::queue::SharedQueue;
use switchboard_fanout::{ManagementPoster, Worker};
use switchboard_handlers::Handlers;
use tokio::net::TcpListener;

use crate::emulator::routes::{CONNECT, DEFAULT, DISCONNECT};
use crate::emulator::{Emulator, EmulatorConfig, RouteTable, RunningEmulator, ThrottleConfig};
use crate::event_source::{EventSource, EventSourceConfig};
use crate::sqs_api::SqsEndpoint;
use backend::{Backend, BackendChoice, BackendError, DEFAULT_QUEUE_NAME};
use integrations::{HandlersIntegration, WorkerFunction};

/// The HS256 secret used when no key is configured. Public on purpose: it is in the README,
/// so tokens signed with it prove nothing. The server says so on start.
pub const DEV_SECRET: &str = "switchboard-local-development-secret";

/// Everything `switchboard dev` can be told.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Address to listen on; loopback by default.
    pub bind: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Stage name, the first path segment.
    pub stage: String,
    /// Auth deadline and idle timeout, shared by the emulator and the handlers.
    pub session: SessionConfig,
    /// Longest a connection may stay open.
    pub max_duration: Duration,
    /// Stage throttle.
    pub throttle: ThrottleConfig,
    /// Token verification.
    pub auth: AuthConfig,
    /// Store and queue.
    pub backend: BackendChoice,
    /// Fanout worker tuning.
    pub tuning: FanoutTuning,
    /// Concurrent event source pollers.
    pub pollers: usize,
    /// Records per batch handed to the worker (1 to 10).
    pub batch_size: usize,
    /// The worker's function timeout: each invocation's deadline.
    pub function_timeout: Duration,
    /// Visibility timeout and receives before dead-lettering, for the embedded queue and a
    /// queue made by `--create`.
    pub queue: QueueSettings,
}

/// A running local service.
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `ws://…/{stage}`.
    pub websocket_url: String,
    /// `http://…/{stage}`, the Management API base.
    pub management_url: String,
    /// What stores connection records, for the banner.
    pub store_description: String,
    /// What queues intents, for the banner.
    pub queue_description: String,
    /// The intents queue's URL at the SQS-compatible endpoint on this server's port.
    pub sqs_queue_url: String,
    emulator: RunningEmulator,
    event_source: EventSource,
    queue: SharedQueue,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The token configuration is unusable.
    #[error("token verification")]
    Auth(#[from] AuthError),
    /// The store or queue could not be set up.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Default for DevOptions {
    /// The documented defaults: loopback port 3001, stage `dev`, API Gateway's lifetimes
    /// and account throttle, the development secret, the embedded store and queue.
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 3001,
            stage: "dev".into(),
            session: SessionConfig::default(),
            max_duration: Duration::from_secs(MAX_CONNECTION_SECS),
            throttle: ThrottleConfig::default(),
            auth: dev_auth(),
            backend: BackendChoice::Embedded,
            tuning: FanoutTuning::default(),
            pollers: 2,
            batch_size: EventSourceConfig::default().batch_size,
            function_timeout: EventSourceConfig::default().function_timeout,
            queue: QueueSettings::default(),
        }
    }
}

/// Token settings with [`DEV_SECRET`] and nothing else.
pub fn dev_auth() -> AuthConfig {
    AuthConfig {
        secret: Some(SecretSource::Inline(DEV_SECRET.into())),
        ..AuthConfig::default()
    }
}

impl DevOptions {
    /// Whether tokens are checked against the public development secret.
    pub fn uses_dev_secret(&self) -> bool {
        matches!(&self.auth.secret, Some(SecretSource::Inline(s)) if s == DEV_SECRET)
    }
}

/// Starts the emulator, handlers, event source and worker.
pub async fn start(options: DevOptions) -> Result<RunningServer, StartError> {
    let clock: SharedClock = clock::system();
    let backend = Backend::build(&options.backend, options.queue).await?;
    let verifier = Arc::new(Verifier::from_config(&options.auth)?);
    let addr = SocketAddr::new(options.bind, options.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;

    let handlers = Handlers::new(
        Arc::clone(&backend.store),
        Arc::clone(&backend.queue),
        verifier,
        options.session,
        Arc::clone(&clock),
    )
    .with_metrics(Metrics::disabled());
    let integration = Arc::new(HandlersIntegration(Arc::new(handlers)));
    let routes = RouteTable::new("action")
        .route(CONNECT, integration.clone())
        .route(DISCONNECT, integration.clone())
        .route(DEFAULT, integration);
    let config = EmulatorConfig {
        stage: options.stage.clone(),
        idle_timeout: options.session.idle_timeout,
        max_duration: options.max_duration,
        throttle: options.throttle,
        ..EmulatorConfig::default()
    };
    let local = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let queue_name = backend
        .queue_arn
        .rsplit(':')
        .next()
        .unwrap_or(DEFAULT_QUEUE_NAME);
    let sqs = SqsEndpoint::new(
        Arc::clone(&backend.queue),
        &format!("http://{local}"),
        queue_name,
    );
    let sqs_queue_url = sqs.url().to_owned();
    let emulator = Emulator::new(config, routes, Arc::clone(&clock))
        .with_routes(sqs.routes())
        .serve(listener)
        .map_err(|source| StartError::Bind { addr, source })?;

    // The worker reaches the emulator the way it reaches API Gateway: the SDK over HTTP.
    let management_url = emulator.management_url();
    let sdk = switchboard::aws::for_endpoint(&management_url).await;
    let poster = ManagementPoster::new(&sdk, &management_url, options.tuning.post_timeout);
    let worker = Worker::new(
        Arc::clone(&backend.store),
        Arc::clone(&backend.queue),
        Arc::new(poster),
        options.tuning,
        clock,
    )
    .with_metrics(Metrics::disabled());
    let event_source = EventSource::start(
        Arc::clone(&backend.queue),
        Arc::new(WorkerFunction(Arc::new(worker))),
        EventSourceConfig {
            pollers: options.pollers,
            batch_size: options.batch_size,
            function_timeout: options.function_timeout,
            queue_arn: backend.queue_arn.clone(),
            region: backend.region.clone(),
            ..EventSourceConfig::default()
        },
    );

    Ok(RunningServer {
        addr: emulator.local_addr(),
        websocket_url: emulator.websocket_url(),
        management_url,
        store_description: backend.store_description,
        queue_description: backend.queue_description,
        sqs_queue_url,
        emulator,
        event_source,
        queue: Arc::clone(&backend.queue),
    })
}

impl RunningServer {
    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        self.emulator.open_connections()
    }

    /// The intent queue the worker reads, so an in-process backend (a benchmark, a test)
    /// can publish the way any backend does.
    pub fn queue(&self) -> SharedQueue {
        Arc::clone(&self.queue)
    }

    /// Ids of the open connections, for tests and debugging.
    pub fn connection_ids(&self) -> Vec<String> {
        self.emulator.connection_ids()
    }

    /// Shuts down in order: sockets closed (1001) and `$disconnect` run for each, then the
    /// event source drained, then the HTTP server stopped. The Management API stays up
    /// until the worker has finished, so its last posts get answers.
    pub async fn shutdown(self) {
        self.emulator.close_connections().await;
        self.event_source.drain().await;
        self.emulator.stop().await;
        tracing::info!("stopped");
    }
}
