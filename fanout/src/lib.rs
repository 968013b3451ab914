//! Switchboard's fanout worker: the only part of the service that writes to sockets.
//!
//! An SQS-triggered Lambda turns each intent into Management API calls. The modules, in
//! the order a record meets them:
//!
//! - [`event`]: the Lambda payload read leniently into SQS records, and the deadline.
//! - [`worker`]: per-record processing, follow-up intents and the batch response.
//! - [`delivery`] (private): target resolution streamed into bounded-concurrency posting.
//! - [`backoff`]: retry timing within an invocation and between retry intents.
//! - [`poster`]: the [`Poster`] trait and the outcomes the worker acts on.
//! - [`management`]: [`ManagementPoster`], the Management API through the AWS SDK.
//! - [`error`]: why a record failed.
//! - `testing` (feature `testing`): a fake Management API on loopback for tests and
//!   benchmarks.
//!
//! How the worker behaves, the intent format and the delivery guarantee are described in
//! the "Fanout worker" section of the repository README.

pub mod backoff;
mod delivery;
pub mod error;
pub mod event;
pub mod management;
pub mod poster;
#[cfg(feature = "testing")]
pub mod testing;
pub mod worker;

pub use backoff::Backoff;
pub use error::RecordError;
pub use management::ManagementPoster;
pub use poster::{PostOutcome, Poster};
pub use worker::Worker;
