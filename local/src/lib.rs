//! Switchboard on one machine: an API Gateway WebSocket emulator, the three route handlers
//! and the fanout worker in one process.
//!
//! - [`emulator`]: the API Gateway WebSocket API and its Management API.
//! - [`event_source`]: feeds the worker from the intent queue as Lambda's SQS source does.
//! - [`dev`]: `switchboard dev`: wires handlers, worker, store and queue to the emulator.
//! - [`sqs_api`]: an SQS-compatible endpoint, so backends publish locally unchanged.
//! - [`publish`]: `switchboard publish`, an intent from the command line.
//! - [`token`]: development tokens for `switchboard token`.
//! - [`cli`]: the command line.

pub mod cli;
pub mod dev;
pub mod emulator;
pub mod event_source;
pub mod publish;
pub mod sqs_api;
pub mod token;
