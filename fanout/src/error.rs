//! Why a record failed: each variant ends in the record being listed in
//! `batchItemFailures`, so SQS delivers it again and, after the queue's maximum receive
//! count, moves it to the dead-letter queue.

use switchboard::intent::IntentError;
use switchboard::queue::EntryError;
use switchboard::store::StoreError;

/// A record the worker could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The SQS record carried no body.
    #[error("record has no body")]
    NoBody,
    /// The body is not an intent the worker accepts; a publisher's fault.
    #[error("body is not an intent")]
    Refused(#[source] IntentError),
    /// A close intent whose target is not one connection.
    #[error("a close intent must target one connection, not {0}")]
    CloseTarget(String),
    /// The Management API answered 403: the endpoint or the function's permissions are
    /// wrong, and no retry will change that.
    #[error(
        "Management API answered 403 Forbidden: check WEBSOCKET_ENDPOINT (stage included) \
         and the execute-api:ManageConnections permission"
    )]
    Forbidden,
    /// The Management API answered 413: the frame will never fit, so the intent is poison.
    #[error("Management API answered 413 Payload Too Large")]
    PayloadTooLarge,
    /// The listed connections failed on every attempt allowed.
    #[error("delivery to {connections} connections failed {attempts} times; giving up")]
    Exhausted {
        /// Attempts made so far.
        attempts: u32,
        /// Connections still undelivered.
        connections: usize,
    },
    /// The store failed before any connection was reached.
    #[error("store failed before any progress")]
    Store(#[source] StoreError),
    /// Closing a connection got a retryable answer; SQS will deliver the close again.
    #[error("closing the connection failed: {0}")]
    Close(String),
    /// The invocation's deadline came before any connection could be tried.
    #[error("deadline reached before any progress")]
    OutOfTime,
    /// A follow-up intent (segment, continuation or retry) could not be built.
    #[error("follow-up intent could not be built")]
    FollowUp(#[source] IntentError),
    /// The queue refused follow-up intents, so the rest of the work would be lost.
    #[error("{count} follow-up intents could not be enqueued")]
    Enqueue {
        /// How many were refused.
        count: usize,
        /// The first refusal.
        #[source]
        source: EntryError,
    },
}
