//! The connection store: where connection records live, and how audiences are read back.
//!
//! Two implementations share one contract, proven by the same test suite:
//! [`DynamoStore`] for AWS (and moto), [`MemoryStore`] embedded for local use.
//!
//! Every read judges liveness from `ttl` against the clock, because DynamoDB deletes
//! expired rows up to days late. Audience reads ([`Audience`]) return only authenticated,
//! live rows, page by page; a page may be empty while more follow, so iterate until the
//! cursor runs out, never until a page comes back empty.

mod cursor;
mod dynamo;
mod item;
mod memory;

use std::sync::Arc;

use async_trait::async_trait;
use futures::Stream;

pub use cursor::Cursor;
pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

use crate::connection::{Connection, Identity};
use crate::intent::Segment;

/// A boxed error from an AWS SDK or other backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A shareable store handle.
pub type SharedStore = Arc<dyn ConnectionStore>;

/// Who to read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// A user's connections (`userId-index`), optionally only those in one tenant.
    User {
        /// The user id.
        user_id: String,
        /// Limit to this tenant.
        tenant_id: Option<String>,
    },
    /// A tenant's connections (`tenantId-index`).
    Tenant(String),
    /// One segment of a parallel scan over every connection.
    Segment(Segment),
}

/// One page of an audience read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Live, authenticated connections; possibly none even when more pages follow.
    pub connections: Vec<Connection>,
    /// Where the next page starts; `None` when this was the last.
    pub next: Option<Cursor>,
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The connection has no live row (never existed, removed, or expired).
    #[error("connection {0} does not exist")]
    NotFound(String),
    /// The connection is authenticated as another user; a token never moves it.
    #[error("connection {0} is authenticated as another user")]
    OtherUser(String),
    /// A cursor that this store did not issue.
    #[error("cursor is not valid for this store")]
    InvalidCursor,
    /// A row that does not have the record's shape.
    #[error("record {id} is malformed: {reason}")]
    Corrupt {
        /// The row's connection id, if readable.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend failed.
    #[error("store {operation} failed")]
    Backend {
        /// The operation that failed, for the log.
        operation: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

/// Where connection records live.
#[async_trait]
pub trait ConnectionStore: Send + Sync + 'static {
    /// Records a new, unauthenticated connection. Replaces a row with the same id, which is
    /// what a retried `$connect` needs.
    async fn save_pending(&self, connection: &Connection) -> Result<(), StoreError>;

    /// Writes many rows as they are, as [`save_pending`](Self::save_pending) does one; for
    /// seeding tests and benchmarks, and for imports. Backends batch where they can.
    async fn save_all(&self, connections: &[Connection]) -> Result<(), StoreError> {
        for connection in connections {
            self.save_pending(connection).await?;
        }
        Ok(())
    }

    /// Marks a live connection authenticated as `identity`, alive until `ttl` (epoch secs).
    /// A missing or expired connection is [`StoreError::NotFound`], never resurrected; one
    /// already authenticated as another user is [`StoreError::OtherUser`]. Both are checked
    /// in the write itself, so two concurrent `auth` frames cannot both win.
    async fn authenticate(
        &self,
        connection_id: &str,
        identity: &Identity,
        ttl: i64,
    ) -> Result<Connection, StoreError>;

    /// Moves a live connection's expiry to `ttl`. Callers decide when it is due
    /// ([`Connection::refresh_due`]) so that activity does not cost a write per message.
    async fn refresh(&self, connection_id: &str, ttl: i64) -> Result<(), StoreError>;

    /// The connection's row, if it exists and is alive.
    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError>;

    /// Removes the row. Removing a missing row succeeds.
    async fn remove(&self, connection_id: &str) -> Result<(), StoreError>;

    /// Removes the row only if it still belongs to the connection accepted at
    /// `connected_at` (epoch ms). Returns whether a row was removed.
    async fn remove_if_same(
        &self,
        connection_id: &str,
        connected_at: i64,
    ) -> Result<bool, StoreError>;

    /// Removes many rows, retrying what the backend leaves unprocessed.
    async fn remove_many(&self, connection_ids: &[String]) -> Result<(), StoreError>;

    /// One page of `audience`, of at most `limit` rows examined, from `cursor` on.
    async fn page(
        &self,
        audience: &Audience,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError>;
}

/// Every page of `audience` from `cursor` on, as a stream that ends when the cursor does.
pub fn pages<'a>(
    store: &'a dyn ConnectionStore,
    audience: &'a Audience,
    cursor: Option<Cursor>,
    limit: usize,
) -> impl Stream<Item = Result<Page, StoreError>> + Send + 'a {
    futures::stream::try_unfold(Some(cursor), move |state| async move {
        let Some(cursor) = state else {
            return Ok(None);
        };
        let page = store.page(audience, cursor.as_ref(), limit).await?;
        let next = page.next.clone().map(Some);
        Ok(Some((page, next)))
    })
}
