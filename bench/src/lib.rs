//! Switchboard's benchmarks. Every figure is measured next to a baseline in the same run
//! and reported as a ratio, because timings on a shared two-core machine drift from run to
//! run while ratios mostly do not.
//!
//! - [`scenarios`]: one module per scenario of issue 8, each returning its figures.
//! - [`report`]: figures, targets, the printed table and the JSON file.
//! - [`scale`]: how large each scenario runs, in full and in smoke mode.
//! - [`child`]: servers run as child processes of this binary, driven over stdin/stdout,
//!   so their CPU and memory can be read apart from the client side's.
//! - [`sink`]: a counting Management API sink (child process).
//! - [`echo`]: a plain WebSocket echo server (child process), the latency and memory
//!   baseline.
//! - [`stack`]: the embedded stack (emulator, handlers, worker, store, queue) as
//!   `switchboard dev` wires it (child process).
//! - [`pipeline`]: a worker on an embedded queue posting to a sink, in this process.
//! - [`raw`]: the baseline client: a bare keep-alive HTTP/1 POST loop.
//! - [`herd`]: many real WebSocket clients on several loopback source addresses.
//! - [`moto`]: a moto server on loopback for the DynamoDB-backed scenario.
//! - [`procstat`]: CPU time and resident memory of a process, from `/proc`.

pub mod child;
pub mod echo;
pub mod error;
pub mod herd;
pub mod moto;
pub mod pipeline;
pub mod procstat;
pub mod raw;
pub mod report;
pub mod scale;
pub mod scenarios;
pub mod sink;
pub mod stack;

pub use error::BenchError;
