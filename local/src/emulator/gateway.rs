//! The emulated stage: its settings and the state every request handler shares.

use std::time::Duration;

use switchboard::clock::SharedClock;
use switchboard::limits::MAX_CONNECTION_SECS;
use tokio::sync::watch;

use super::ids;
use super::registry::Registry;
use super::routes::RouteTable;
use super::throttle::{ThrottleConfig, TokenBucket};
use super::tracker::Tracker;

/// Settings of the emulated API and stage.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorConfig {
    /// Stage name: the first path segment of both URLs.
    pub stage: String,
    /// A connection without a client message for this long is closed (API Gateway: 10 min).
    pub idle_timeout: Duration,
    /// A connection is closed this long after it opened, whatever happens (API Gateway: 2 h).
    pub max_duration: Duration,
    /// Stage throttle.
    pub throttle: ThrottleConfig,
    /// Longest an integration may take (API Gateway: 29 s).
    pub integration_timeout: Duration,
    /// Frames queued per connection before Management API posts answer 429. Bounded so a
    /// slow client costs a fixed amount of memory.
    pub outbound_queue: usize,
    /// How long a closing connection waits for the client's close frame before dropping.
    pub close_grace: Duration,
    /// The emulated `apiId`.
    pub api_id: String,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            stage: "dev".into(),
            idle_timeout: Duration::from_secs(600),
            max_duration: Duration::from_secs(MAX_CONNECTION_SECS),
            throttle: ThrottleConfig::default(),
            integration_timeout: Duration::from_secs(29),
            outbound_queue: 32,
            close_grace: Duration::from_secs(2),
            api_id: ids::random_api_id(),
        }
    }
}

/// State shared by the WebSocket and Management API handlers.
pub(crate) struct Gateway {
    pub config: EmulatorConfig,
    pub routes: RouteTable,
    pub registry: Registry,
    pub throttle: TokenBucket,
    pub clock: SharedClock,
    pub tasks: Tracker,
    shutdown: watch::Sender<bool>,
}

impl Gateway {
    pub fn new(config: EmulatorConfig, routes: RouteTable, clock: SharedClock) -> Self {
        Self {
            throttle: TokenBucket::new(config.throttle),
            config,
            routes,
            registry: Registry::default(),
            clock,
            tasks: Tracker::default(),
            shutdown: watch::Sender::new(false),
        }
    }

    /// Whether new connections are accepted; false once shutdown has begun.
    pub fn accepting(&self) -> bool {
        !*self.shutdown.borrow()
    }

    /// Tells every connection, present and future, to close: subscribers see `true`.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// A receiver that sees shutdown begin; check its current value before waiting.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}
