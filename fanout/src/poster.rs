//! The connection poster: the worker's only way to reach a socket.
//!
//! The trait is the seam between delivery logic and the Management API, so the local
//! emulator and the tests can answer posts without AWS. [`crate::ManagementPoster`] is the
//! implementation that talks to API Gateway.

use async_trait::async_trait;

/// What became of one call to the Management API, reduced to what the worker acts on.
///
/// Outcomes are values, not errors, because every one of them is an expected answer that
/// steers delivery: only [`PostOutcome::Throttled`] and [`PostOutcome::Failed`] are worth
/// trying again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// 2xx: the frame was handed to the connection (or the connection was closed).
    Delivered,
    /// 410: the connection no longer exists; its row should be pruned.
    Gone,
    /// 429: the account's rate or the client's buffer is exhausted. Never a sign of a dead
    /// connection.
    Throttled,
    /// 413: the frame is larger than API Gateway delivers; posting it again cannot help.
    PayloadTooLarge,
    /// 403: wrong endpoint or missing `execute-api:ManageConnections`; a configuration fault
    /// that no retry fixes.
    Forbidden,
    /// Another 4xx, such as 400 for a malformed connection id: the request is wrong for
    /// this connection, and sending it again cannot help. The text is for logs.
    Refused(String),
    /// Anything else worth retrying: 5xx, timeouts, transport errors. The text is for logs.
    Failed(String),
}

/// Posts frames to connections and closes them.
#[async_trait]
pub trait Poster: Send + Sync + 'static {
    /// Sends `frame` as one text message to `connection_id` (`POST @connections/{id}`).
    async fn post(&self, connection_id: &str, frame: &[u8]) -> PostOutcome;

    /// Closes `connection_id` from the server side (`DELETE @connections/{id}`).
    async fn delete(&self, connection_id: &str) -> PostOutcome;
}

impl PostOutcome {
    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PostOutcome::Throttled | PostOutcome::Failed(_))
    }
}
