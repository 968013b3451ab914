//! Open connections by id: what the Management API reaches and shutdown closes.
//!
//! A connection is registered once `$connect` has accepted it and removed as soon as it
//! starts closing, so a `POST` racing a close gets `410 Gone`, as on API Gateway.
//! Shutdown does not go through here: every connection watches the stage's shutdown
//! signal, which also reaches connections still in `$connect`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::close::CloseCause;
use super::events::ConnectionContext;

/// A frame on its way to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A text frame.
    Text(String),
    /// A binary frame, for Management API posts that are not UTF-8.
    Binary(Bytes),
}

/// Why a frame could not be queued for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostError {
    /// The connection is closed or closing.
    Gone,
    /// The client is not reading fast enough and its outbound queue is full.
    Full,
}

/// The registry's view of one open connection.
#[derive(Debug)]
pub struct Handle {
    /// Fixed facts about the connection.
    pub context: Arc<ConnectionContext>,
    outbound: mpsc::Sender<Outbound>,
    close: Mutex<Option<oneshot::Sender<CloseCause>>>,
    last_active: AtomicI64,
}

/// Open connections.
#[derive(Debug, Default)]
pub struct Registry {
    connections: Mutex<HashMap<String, Arc<Handle>>>,
}

impl Handle {
    /// A handle delivering frames to `outbound` and close requests to `close`.
    pub fn new(
        context: Arc<ConnectionContext>,
        outbound: mpsc::Sender<Outbound>,
        close: oneshot::Sender<CloseCause>,
    ) -> Self {
        let last_active = AtomicI64::new(context.connected_at);
        Self {
            context,
            outbound,
            close: Mutex::new(Some(close)),
            last_active,
        }
    }

    /// Queues a frame without waiting: a full queue is the client's problem, reported as
    /// API Gateway reports it (429), never a stall of the caller.
    pub fn post(&self, frame: Outbound) -> Result<(), PostError> {
        self.outbound.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => PostError::Full,
            mpsc::error::TrySendError::Closed(_) => PostError::Gone,
        })
    }

    /// Asks the connection to close; only the first request counts.
    pub fn close(&self, cause: CloseCause) {
        let sender = self.close.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(sender) = sender {
            let _ = sender.send(cause);
        }
    }

    /// Records activity at `now` (epoch milliseconds).
    pub fn touch(&self, now: i64) {
        self.last_active.fetch_max(now, Ordering::Relaxed);
    }

    /// Epoch milliseconds of the last message in either direction.
    pub fn last_active(&self) -> i64 {
        self.last_active.load(Ordering::Relaxed)
    }
}

impl Registry {
    /// Registers an accepted connection.
    pub fn insert(&self, handle: Arc<Handle>) {
        let id = handle.context.connection_id.clone();
        self.lock().insert(id, handle);
    }

    /// Whether `id` is taken; new ids are drawn until this is false.
    pub fn contains(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// The open connection `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Handle>> {
        self.lock().get(id).cloned()
    }

    /// Unregisters `id`, returning its handle if it was open.
    pub fn remove(&self, id: &str) -> Option<Arc<Handle>> {
        self.lock().remove(id)
    }

    /// Ids of the open connections, in no particular order.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many connections are open.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Handle>>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }
}
