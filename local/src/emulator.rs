//! An API Gateway WebSocket API on one machine, faithful where clients and handlers can
//! tell the difference.
//!
//! - [`server`]: one HTTP port for the WebSocket endpoint and the Management API.
//! - [`handshake`]: `$connect` runs before the upgrade completes and can refuse it.
//! - [`connection`]: one task per connection: frames, limits, timers, `$disconnect`.
//! - [`routes`]: route selection on `$request.body.<field>`, falling back to `$default`.
//! - [`events`]: Lambda events in API Gateway's shapes.
//! - [`integration`]: what a route invokes: a Lambda proxy integration, in-process.
//! - [`invoke`]: one invocation with a timeout and its panics contained.
//! - [`management`]: `@connections` POST, GET and DELETE.
//! - [`registry`]: open connections by id.
//! - [`throttle`]: the stage's token bucket.
//! - [`close`]: close codes and the reasons `$disconnect` reports.
//! - [`ids`], [`tracker`], [`gateway`]: ids in API Gateway's shape, task accounting, and
//!   the shared stage state.

pub mod close;
mod connection;
pub mod events;
mod gateway;
mod handshake;
pub mod ids;
pub mod integration;
mod invoke;
mod management;
mod registry;
pub mod routes;
mod server;
pub mod throttle;
mod tracker;

pub use gateway::EmulatorConfig;
pub use integration::{Integration, IntegrationError, IntegrationResponse, SharedIntegration};
pub(crate) use management::forbidden;
pub use routes::RouteTable;
pub use server::{Emulator, RunningEmulator};
pub use throttle::ThrottleConfig;
