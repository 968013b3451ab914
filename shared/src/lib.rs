//! Common ground for every Switchboard component.
//!
//! - [`connection`]: the connection record and its DynamoDB attribute names.
//! - [`protocol`]: the client's JSON frames, both directions, and error codes.
//! - [`intent`]: the message intent that travels on the queue to the fanout worker.
//! - [`limits`]: the API Gateway and SQS limits that bind us, in one place.
//! - [`metrics`]: CloudWatch metrics as Embedded Metric Format lines.
//! - [`config`]: configuration from environment variables, through a lookup seam.
//! - [`clock`]: injected time, so expiry is testable without sleeping.
//! - [`store`]: the connection store trait, on DynamoDB or embedded in memory.
//! - [`queue`]: the intent queue trait, on SQS or embedded in memory.
//! - [`publish`]: validating and sending intents from any backend.
//! - [`provision`]: creates the table and queues for local use and tests.
//! - [`aws`]: SDK configuration shared by every binary.
//! - `auth` (feature `auth`): JWT verification for the `auth` action.

#[cfg(feature = "auth")]
pub mod auth;
pub mod aws;
pub mod clock;
pub mod config;
pub mod connection;
pub mod intent;
pub mod limits;
pub mod metrics;
pub mod protocol;
pub mod provision;
pub mod publish;
pub mod queue;
pub mod store;
