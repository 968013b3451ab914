//! Test support (feature `testing`): a fake Management API, a worker rig, and the
//! worker's behaviour scenarios.
//!
//! - [`FakeManagementApi`]: a real HTTP server on loopback standing in for API Gateway's
//!   Management API; it records every call and answers as scripted. Its delivery counts
//!   make it a counting sink for benchmarks too.
//! - [`CountingSink`]: an in-process poster that only counts, for benchmarks that should
//!   measure the worker and not an HTTP stack.
//! - [`Rig`]: the real worker and SDK client wired to the fake and to any store and queue,
//!   driven the way Lambda drives it.
//! - [`scenarios`]: the behaviours every store and queue backend must show.

mod api;
mod rig;
pub mod scenarios;
mod sink;

pub use api::{Answer, Call, FakeManagementApi, sdk_config};
pub use rig::{Drained, Rig, STAGE, deadline, event, message, quick_backoff};
pub use sink::CountingSink;
