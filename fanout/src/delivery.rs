//! Delivery of one intent's frame: resolve recipients page by page and post as they come.
//!
//! A producer reads the audience into a bounded channel while the consumer posts with
//! bounded concurrency, so the first post leaves before the last page is read and memory
//! stays at a page or two whatever the audience. The producer stops reading at the
//! per-invocation limit or as the deadline nears; every recipient it has read is then
//! either posted or handed back as deferred, which is what lets the rest continue from the
//! last page's cursor without posting to anyone twice.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Instant;

use futures::{StreamExt as _, stream};
use switchboard::config::FanoutTuning;
use switchboard::store::{Audience, ConnectionStore, Cursor, StoreError};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use crate::backoff::{Backoff, Tries};
use crate::poster::{PostOutcome, Poster};

/// Store lookups in flight at once when re-checking a retry list.
const LOOKUP_CONCURRENCY: usize = 16;

/// Where the recipients of one intent come from.
#[derive(Debug)]
pub(crate) enum Source {
    /// Ids posted to without a store lookup: a `connection:` target, which may still be
    /// unauthenticated (auth replies, errors), and its retries.
    Direct(Vec<String>),
    /// A retry list of an audience target: each id is checked in the store again, so a
    /// connection that went away or lost its token in the meantime is skipped.
    Listed(Vec<String>),
    /// An audience read page by page from `cursor` (`None`: from the start).
    Audience {
        /// Who.
        audience: Audience,
        /// Where to resume.
        cursor: Option<Cursor>,
    },
}

/// What to send and by when.
pub(crate) struct Plan<'a> {
    /// The frame, byte for byte.
    pub frame: &'a [u8],
    /// Connection ids never posted to.
    pub exclude: HashSet<&'a str>,
    /// Epoch seconds against which rows are judged live.
    pub now_secs: i64,
    /// After this, no further page is read.
    pub stop_reading_at: Instant,
    /// After this, no further post starts; started ones end within the post timeout.
    pub stop_posting_at: Instant,
}

/// One intent's delivery run.
pub(crate) struct Delivery<'a> {
    /// Rows to resolve and prune.
    pub store: &'a dyn ConnectionStore,
    /// Where frames go.
    pub poster: &'a dyn Poster,
    /// Posts in flight across the whole invocation.
    pub permits: &'a Semaphore,
    /// Page size, concurrency and the per-invocation limit.
    pub tuning: &'a FanoutTuning,
    /// In-invocation retry timing.
    pub backoff: &'a Backoff,
    /// What and by when.
    pub plan: Plan<'a>,
    /// Set by the first answer that makes further posting pointless.
    pub halted: OnceLock<Fatal>,
}

/// An answer that fails the whole record: posting to anyone else would fail the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fatal {
    /// 403.
    Forbidden,
    /// 413.
    PayloadTooLarge,
}

/// Where an audience read stands after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rest {
    /// Nothing left to read.
    Done,
    /// More to read, from this cursor (`None`: from the start).
    From(Option<Cursor>),
}

/// What a run did.
#[derive(Debug)]
pub(crate) struct Report {
    /// Per-connection results.
    pub tally: Tally,
    /// What is left of the audience.
    pub rest: Rest,
    /// Audience pages read.
    pub pages: usize,
    /// The store error that stopped the read, if one did.
    pub store_error: Option<StoreError>,
}

/// Per-connection results of a run, summed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Connections that got the frame.
    pub delivered: usize,
    /// Connections answered 410 Gone (their rows pruned).
    pub gone: usize,
    /// Connections at least one post was made to.
    pub attempted: usize,
    /// Posts made again within the invocation.
    pub retries: usize,
    /// Posts answered 429.
    pub throttled: usize,
    /// Connections whose post was refused for good (a 4xx other than 403, 410, 413, 429).
    pub refused: usize,
    /// Connections whose posts kept failing with a retryable answer.
    pub failed: Vec<String>,
    /// Connections never tried: the deadline or a halt came first.
    pub deferred: Vec<String>,
    /// The answer that halted the run.
    pub fatal: Option<Fatal>,
}

/// A connection to post to, with what pruning it needs.
#[derive(Debug, Clone)]
struct Recipient {
    id: String,
    /// `connectedAt` of the row it was resolved from; `None` when posted without a lookup.
    connected_at: Option<i64>,
}

/// What the producer did.
struct Resolved {
    rest: Rest,
    pages: usize,
    store_error: Option<StoreError>,
    /// Retry-list ids whose lookup failed; they stay in the retry list.
    unresolved: Vec<String>,
    /// Retry-list ids not looked up before time ran out.
    deferred: Vec<String>,
}

/// How one recipient's posts ended.
enum Fate {
    Delivered,
    Gone,
    Refused,
    Failed,
    Deferred,
    Fatal(Fatal),
}

impl Delivery<'_> {
    /// Resolves `source` and posts the frame to every recipient, concurrently.
    pub(crate) async fn run(&self, source: Source) -> Report {
        // One page ahead is enough to keep posts flowing while the next page is read.
        let (tx, rx) = mpsc::channel(1);
        let (resolved, mut tally) = tokio::join!(self.produce(source, tx), self.consume(rx));
        tally.failed.extend(resolved.unresolved);
        tally.deferred.extend(resolved.deferred);
        Report {
            tally,
            rest: resolved.rest,
            pages: resolved.pages,
            store_error: resolved.store_error,
        }
    }

    fn halted(&self) -> bool {
        self.halted.get().is_some()
    }

    async fn produce(&self, source: Source, tx: mpsc::Sender<Vec<Recipient>>) -> Resolved {
        let mut resolved = Resolved {
            rest: Rest::Done,
            pages: 0,
            store_error: None,
            unresolved: Vec::new(),
            deferred: Vec::new(),
        };
        let mut seen = HashSet::new();
        match source {
            Source::Direct(ids) => {
                let batch = ids
                    .into_iter()
                    .filter(|id| self.wanted(id, &mut seen))
                    .map(|id| Recipient {
                        id,
                        connected_at: None,
                    })
                    .collect();
                let _ = tx.send(batch).await;
            }
            Source::Listed(ids) => {
                let ids: Vec<String> = ids
                    .into_iter()
                    .filter(|id| self.wanted(id, &mut seen))
                    .collect();
                self.look_up(ids, &tx, &mut resolved).await;
            }
            Source::Audience { audience, cursor } => {
                self.read(&audience, cursor, &tx, &mut seen, &mut resolved)
                    .await;
            }
        }
        resolved
    }

    /// Whether `id` is neither excluded nor seen before; marks it seen.
    fn wanted(&self, id: &str, seen: &mut HashSet<String>) -> bool {
        !self.plan.exclude.contains(id) && seen.insert(id.to_owned())
    }

    /// Reads `audience` page by page into `tx` until it ends, the per-invocation limit of
    /// rows read would be passed, time runs out, or the store fails.
    async fn read(
        &self,
        audience: &Audience,
        mut cursor: Option<Cursor>,
        tx: &mpsc::Sender<Vec<Recipient>>,
        seen: &mut HashSet<String>,
        resolved: &mut Resolved,
    ) {
        let page_size = self.tuning.page_size.max(1);
        let mut read = 0;
        loop {
            // Stopping on a page boundary keeps the cursor exact: everything before it
            // has been handed to the consumer, nothing after it has.
            let full = resolved.pages > 0 && read + page_size > self.tuning.max_per_invocation;
            if full || self.halted() || Instant::now() >= self.plan.stop_reading_at {
                resolved.rest = Rest::From(cursor);
                return;
            }
            let page = match self.store.page(audience, cursor.as_ref(), page_size).await {
                Ok(page) => page,
                Err(e) => {
                    resolved.rest = Rest::From(cursor);
                    resolved.store_error = Some(e);
                    return;
                }
            };
            resolved.pages += 1;
            let batch: Vec<Recipient> = page
                .connections
                .into_iter()
                .filter(|c| c.is_deliverable(self.plan.now_secs))
                .filter(|c| self.wanted(&c.connection_id, seen))
                .map(|c| Recipient {
                    id: c.connection_id,
                    connected_at: Some(c.connected_at),
                })
                .collect();
            // Every page counts in full, whatever filtering left of it: an audience of
            // mostly expired or excluded rows must not keep one record reading for long.
            read += page_size;
            cursor = page.next;
            if !batch.is_empty() && tx.send(batch).await.is_err() {
                // The consumer only goes away when the run is over.
                resolved.rest = Rest::From(cursor);
                return;
            }
            if cursor.is_none() {
                return;
            }
        }
    }

    /// Looks each listed id up again and passes on those still deliverable.
    async fn look_up(
        &self,
        ids: Vec<String>,
        tx: &mpsc::Sender<Vec<Recipient>>,
        resolved: &mut Resolved,
    ) {
        let page_size = self.tuning.page_size.max(1);
        let mut chunks = ids.chunks(page_size);
        while let Some(chunk) = chunks.next() {
            if self.halted() || Instant::now() >= self.plan.stop_reading_at {
                resolved.deferred.extend(chunk.iter().cloned());
                resolved
                    .deferred
                    .extend(chunks.flat_map(|c| c.iter().cloned()));
                return;
            }
            let rows: Vec<_> = stream::iter(chunk.iter().cloned())
                .map(|id| async move {
                    let row = self.store.get(&id).await;
                    (id, row)
                })
                .buffered(LOOKUP_CONCURRENCY)
                .collect()
                .await;
            let mut batch = Vec::new();
            for (id, row) in rows {
                match row {
                    Ok(Some(row)) if row.is_deliverable(self.plan.now_secs) => {
                        batch.push(Recipient {
                            id: row.connection_id,
                            connected_at: Some(row.connected_at),
                        });
                    }
                    Ok(_) => debug!(connection_id = %id, "no longer deliverable; skipped"),
                    Err(e) => {
                        warn!(connection_id = %id, error = %e, "lookup failed; kept for retry");
                        resolved.unresolved.push(id);
                    }
                }
            }
            if !batch.is_empty() && tx.send(batch).await.is_err() {
                return;
            }
        }
    }

    async fn consume(&self, rx: mpsc::Receiver<Vec<Recipient>>) -> Tally {
        let recipients = stream::unfold(rx, next_batch).flatten();
        recipients
            .map(|recipient| self.deliver(recipient))
            .buffer_unordered(self.tuning.concurrency.max(1))
            .fold(Tally::default(), |mut tally, (id, fate, tries)| {
                tally.add(id, fate, &tries);
                futures::future::ready(tally)
            })
            .await
    }

    /// Posts to one recipient, retrying within the budget, and prunes it when gone.
    async fn deliver(&self, recipient: Recipient) -> (String, Fate, Tries) {
        let id = recipient.id.as_str();
        let tries = self
            .backoff
            .retrying(self.plan.stop_posting_at, || async {
                let _permit = self.permits.acquire().await.ok()?;
                if self.halted() || Instant::now() >= self.plan.stop_posting_at {
                    return None;
                }
                Some(self.poster.post(id, self.plan.frame).await)
            })
            .await;
        let fate = match &tries.last {
            None => Fate::Deferred,
            Some(PostOutcome::Delivered) => {
                debug!(connection_id = %id, "delivered");
                Fate::Delivered
            }
            Some(PostOutcome::Gone) => {
                self.prune(&recipient).await;
                Fate::Gone
            }
            Some(PostOutcome::Forbidden) => self.halt(Fatal::Forbidden),
            Some(PostOutcome::PayloadTooLarge) => self.halt(Fatal::PayloadTooLarge),
            Some(PostOutcome::Refused(reason)) => {
                debug!(connection_id = %id, reason, "post refused; not retried");
                Fate::Refused
            }
            Some(PostOutcome::Throttled) => {
                debug!(connection_id = %id, tries = tries.count, "still throttled; kept for retry");
                Fate::Failed
            }
            Some(PostOutcome::Failed(reason)) => {
                let tries = tries.count;
                debug!(connection_id = %id, tries, reason, "post failed; kept for retry");
                Fate::Failed
            }
        };
        (recipient.id, fate, tries)
    }

    fn halt(&self, fatal: Fatal) -> Fate {
        let _ = self.halted.set(fatal);
        Fate::Fatal(fatal)
    }

    /// Deletes the row of a connection answered 410, only if it still belongs to the same
    /// connection: a row written since (a reconnect reusing nothing but the id) survives.
    async fn prune(&self, recipient: &Recipient) {
        let id = recipient.id.as_str();
        let connected_at = match recipient.connected_at {
            Some(at) => Some(at),
            None => match self.store.get(id).await {
                Ok(row) => row.map(|row| row.connected_at),
                Err(e) => {
                    warn!(connection_id = %id, error = %e, "gone connection not pruned");
                    return;
                }
            },
        };
        let pruned = match connected_at {
            Some(at) => self.store.remove_if_same(id, at).await,
            // No live row: remove whatever expired row may linger.
            None => self.store.remove(id).await.map(|()| true),
        };
        match pruned {
            Ok(removed) => debug!(connection_id = %id, removed, "gone connection pruned"),
            Err(e) => warn!(connection_id = %id, error = %e, "gone connection not pruned"),
        }
    }
}

/// The next page's recipients from the producer, as a stream step. A function rather than
/// a closure: a closure here makes rustc lose track of the future being `Send`.
async fn next_batch(
    mut rx: mpsc::Receiver<Vec<Recipient>>,
) -> Option<(
    stream::Iter<std::vec::IntoIter<Recipient>>,
    mpsc::Receiver<Vec<Recipient>>,
)> {
    let batch = rx.recv().await?;
    Some((stream::iter(batch), rx))
}

impl Tally {
    fn add(&mut self, id: String, fate: Fate, tries: &Tries) {
        let count = usize::try_from(tries.count).unwrap_or(usize::MAX);
        self.attempted += usize::from(count > 0);
        self.retries += count.saturating_sub(1);
        self.throttled += usize::try_from(tries.throttled).unwrap_or(usize::MAX);
        match fate {
            Fate::Delivered => self.delivered += 1,
            Fate::Gone => self.gone += 1,
            Fate::Refused => self.refused += 1,
            Fate::Failed => self.failed.push(id),
            Fate::Deferred => self.deferred.push(id),
            Fate::Fatal(fatal) => {
                self.fatal.get_or_insert(fatal);
            }
        }
    }
}
