//! The worker: one SQS batch in, a partial batch response out.
//!
//! Records are independent: each is parsed, delivered and answered on its own, so a bad
//! body or a failing target never fails its neighbours. Records of one batch run
//! concurrently and share one bound on posts in flight, so a large broadcast does not
//! hold back an auth reply that arrived beside it.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;
use switchboard::clock::SharedClock;
use switchboard::config::FanoutTuning;
use switchboard::intent::{Intent, Segment, Target};
use switchboard::metrics::{Metric, Metrics};
use switchboard::queue::{Outgoing, SharedQueue, error_chain};
use switchboard::store::{Audience, Cursor, SharedStore};
use tokio::sync::Semaphore;
use tracing::{Instrument as _, debug, error, info, info_span, warn};

use crate::backoff::Backoff;
use crate::delivery::{Delivery, Fatal, Plan, Report, Rest, Source};
use crate::error::RecordError;
use crate::event::{self, EventError};
use crate::poster::{PostOutcome, Poster};

/// Connection ids per retry intent. Keeps a retry intent far below SQS's 1 MiB even with
/// a 128 KB frame and long ids.
const LIST_CHUNK: usize = 2_000;

/// Time kept back from the deadline for what follows the last post: pruning, enqueueing
/// follow-ups, writing the response.
const FINISH_ALLOWANCE: Duration = Duration::from_millis(250);

/// The least time a record needs between its first read and its first post's deadline,
/// beyond the timeouts: below this a function's invocations would end before posting.
const WORKING_ROOM: Duration = Duration::from_millis(500);

/// The SQS attribute counting receives of a message.
const RECEIVE_COUNT: &str = "ApproximateReceiveCount";
/// The SQS attribute holding the epoch milliseconds a message was sent at.
const SENT_TIMESTAMP: &str = "SentTimestamp";

/// Turns intents into posts. Build one per container and share it across invocations.
pub struct Worker {
    store: SharedStore,
    queue: SharedQueue,
    poster: Arc<dyn Poster>,
    tuning: FanoutTuning,
    clock: SharedClock,
    backoff: Backoff,
    metrics: Metrics,
}

/// What one record needs beside the worker: the invocation's shared post budget and
/// deadline.
struct Invocation<'a> {
    permits: &'a Semaphore,
    deadline: Instant,
}

/// The shortest function timeout with which the worker can still post: the runtime's
/// margin, one post timeout for reading and one for posting, the finishing allowance, and
/// a little working room. With less, every audience record would end `OutOfTime` and go
/// to the dead-letter queue; `switchboard dev` and the CDK app refuse such settings.
pub fn shortest_timeout(tuning: &FanoutTuning) -> Duration {
    crate::event::DEADLINE_MARGIN + tuning.post_timeout * 2 + FINISH_ALLOWANCE + WORKING_ROOM
}

impl Worker {
    /// A worker over these backends. Metrics are written in Lambda only
    /// ([`Metrics::from_env`]); retries use [`Backoff::default`].
    pub fn new(
        store: SharedStore,
        queue: SharedQueue,
        poster: Arc<dyn Poster>,
        tuning: FanoutTuning,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            queue,
            poster,
            tuning,
            clock,
            backoff: Backoff::default(),
            metrics: Metrics::from_env(),
        }
    }

    /// This worker with other retry timing; tests use it to requeue without delay.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// This worker writing metrics through `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// One SQS batch, as Lambda delivers it; `deadline` = when the invocation must have
    /// answered. The response lists exactly the records that failed, by `messageId`.
    pub async fn process(&self, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
        let permits = Semaphore::new(self.tuning.concurrency.max(1));
        let invocation = Invocation {
            permits: &permits,
            deadline,
        };
        let results = join_all(
            event
                .records
                .iter()
                .map(|record| self.record(record, &invocation)),
        )
        .await;
        let mut response = SqsBatchResponse::default();
        for (record, result) in event.records.iter().zip(results) {
            if result.is_err() {
                // A record without an id cannot be named; an empty identifier makes
                // Lambda retry the whole batch, which is the safe answer.
                response.add_failure(record.message_id.clone().unwrap_or_default());
            }
        }
        response
    }

    /// A Lambda payload that should be an SQS event, read leniently: records that do not
    /// deserialise are reported failed by `messageId` and the rest are processed.
    pub async fn handle(
        &self,
        payload: serde_json::Value,
        deadline: Instant,
    ) -> Result<SqsBatchResponse, EventError> {
        let batch = event::read(payload)?;
        let mut response = self.process(batch.event, deadline).await;
        for message_id in batch.unreadable {
            warn!(%message_id, "record is not an SQS message");
            response.add_failure(message_id);
        }
        Ok(response)
    }

    async fn record(
        &self,
        record: &SqsMessage,
        invocation: &Invocation<'_>,
    ) -> Result<(), RecordError> {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let span = info_span!("record", message_id, intent_id = tracing::field::Empty);
        async {
            let result = self.dispatch(record, invocation).await;
            if let Err(e) = &result {
                report(e);
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn dispatch(
        &self,
        record: &SqsMessage,
        invocation: &Invocation<'_>,
    ) -> Result<(), RecordError> {
        let body = record.body.as_deref().ok_or(RecordError::NoBody)?;
        let intent = Intent::parse(body).map_err(RecordError::Refused)?;
        tracing::Span::current().record("intent_id", intent.label());

        if intent.progress.close_unauthenticated {
            return self.close(&intent, invocation).await;
        }
        let progress = &intent.progress;
        if !progress.connections.is_empty() && progress.attempt >= self.tuning.max_attempts {
            return Err(self.exhausted(&intent, record));
        }
        let source = match (&intent.to, progress.segment) {
            (Target::Connection(id), _) if progress.connections.is_empty() => {
                Source::Direct(vec![id.clone()])
            }
            (Target::Connection(_), _) => Source::Direct(progress.connections.clone()),
            _ if !progress.connections.is_empty() => Source::Listed(progress.connections.clone()),
            (Target::All, None) => return self.split(&intent).await,
            (Target::All, Some(segment)) => audience(Audience::Segment(segment), &intent),
            (Target::User(user_id), _) => audience(
                Audience::User {
                    user_id: user_id.clone(),
                    tenant_id: intent.tenant.clone(),
                },
                &intent,
            ),
            (Target::Tenant(tenant_id), _) => {
                audience(Audience::Tenant(tenant_id.clone()), &intent)
            }
        };
        let report = self.deliver(&intent, source, invocation).await;
        self.finish(&intent, record, report).await
    }

    async fn deliver(
        &self,
        intent: &Intent,
        source: Source,
        invocation: &Invocation<'_>,
    ) -> Report {
        let post_timeout = self.tuning.post_timeout;
        let stop_posting_at = before(invocation.deadline, post_timeout + FINISH_ALLOWANCE);
        let delivery = Delivery {
            store: self.store.as_ref(),
            poster: self.poster.as_ref(),
            permits: invocation.permits,
            tuning: &self.tuning,
            backoff: &self.backoff,
            plan: Plan {
                frame: intent.frame().unwrap_or_default().as_bytes(),
                exclude: intent.exclude.iter().map(String::as_str).collect(),
                now_secs: self.clock.now_secs(),
                stop_reading_at: before(stop_posting_at, post_timeout),
                stop_posting_at,
            },
            halted: OnceLock::new(),
        };
        delivery.run(source).await
    }

    /// Turns a run's leftovers into follow-up intents, or fails the record when the run
    /// cannot be continued without losing or repeating work.
    async fn finish(
        &self,
        intent: &Intent,
        record: &SqsMessage,
        report: Report,
    ) -> Result<(), RecordError> {
        let tally = &report.tally;
        match tally.fatal {
            Some(Fatal::Forbidden) => return Err(RecordError::Forbidden),
            Some(Fatal::PayloadTooLarge) => return Err(RecordError::PayloadTooLarge),
            None => {}
        }
        let progressed = report.pages > 0 || tally.attempted > 0;
        let unfinished = report.rest != Rest::Done || !tally.deferred.is_empty();
        if !progressed && unfinished {
            // Re-enqueueing identical work would reset SQS's receive count and loop
            // forever; failing lets the queue's redrive policy decide.
            return Err(match report.store_error {
                Some(e) => RecordError::Store(e),
                None => RecordError::OutOfTime,
            });
        }
        if let Some(e) = &report.store_error {
            warn!(error = %error_chain(e), "store failed mid-read; continuing from the last page");
        }

        let attempt = intent.progress.attempt;
        let mut follow_ups = Vec::new();
        if let Rest::From(cursor) = &report.rest {
            follow_ups.push(Outgoing::now(continuation(intent, cursor.clone())?));
        }
        let delay = self.backoff.requeue_delay(attempt + 1);
        for ids in tally.failed.chunks(LIST_CHUNK) {
            let body = retry(intent, ids, attempt + 1)?;
            follow_ups.push(Outgoing::delayed(body, delay));
        }
        for ids in tally.deferred.chunks(LIST_CHUNK) {
            follow_ups.push(Outgoing::now(retry(intent, ids, attempt)?));
        }
        self.enqueue(&follow_ups).await?;

        info!(
            delivered = tally.delivered,
            gone = tally.gone,
            refused = tally.refused,
            retried = tally.retries,
            failed = tally.failed.len(),
            deferred = tally.deferred.len(),
            throttled = tally.throttled,
            continued = report.rest != Rest::Done,
            "intent processed"
        );
        let latency =
            sent_at(record).map_or(0.0, |sent| (self.clock.now_millis() - sent).max(0) as f64);
        self.metrics.put(&[
            (Metric::IntentsProcessed, 1.0),
            (Metric::Deliveries, tally.delivered as f64),
            (Metric::ConnectionsPruned, tally.gone as f64),
            (Metric::PostsThrottled, tally.throttled as f64),
            (Metric::PostRetries, tally.retries as f64),
            (Metric::FanoutLatency, latency),
        ]);
        Ok(())
    }

    /// A broadcast to everyone becomes one intent per scan segment, so that as many
    /// workers as there are segments share it.
    async fn split(&self, intent: &Intent) -> Result<(), RecordError> {
        let total = self.tuning.segments.max(1);
        let segments = (0..total)
            .map(|index| {
                let mut part = intent.clone();
                part.progress.segment = Some(Segment { index, total });
                part.to_body().map(Outgoing::now)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(RecordError::FollowUp)?;
        self.enqueue(&segments).await?;
        info!(segments = total, "broadcast split into segments");
        self.metrics.put(&[(Metric::IntentsProcessed, 1.0)]);
        Ok(())
    }

    /// The auth deadline: closes the connection unless it authenticated in time.
    async fn close(&self, intent: &Intent, invocation: &Invocation<'_>) -> Result<(), RecordError> {
        let Target::Connection(id) = &intent.to else {
            return Err(RecordError::CloseTarget(intent.to.to_string()));
        };
        let row = self.store.get(id).await.map_err(RecordError::Store)?;
        if row.as_ref().is_some_and(|row| row.authenticated) {
            debug!(connection_id = %id, "authenticated in time; left open");
            return Ok(());
        }
        let stop_at = before(invocation.deadline, FINISH_ALLOWANCE);
        let tries = self
            .backoff
            .retrying(stop_at, || async { Some(self.poster.delete(id).await) })
            .await;
        let closed = match tries.last {
            Some(PostOutcome::Delivered) => true,
            // Most often a connection that authenticated and has left since.
            Some(PostOutcome::Gone) => false,
            Some(PostOutcome::Refused(reason)) => {
                // Nothing can close an id the API refuses; `$disconnect` and TTL remain.
                warn!(connection_id = %id, reason, "close refused; not retried");
                false
            }
            Some(PostOutcome::Forbidden) => return Err(RecordError::Forbidden),
            Some(PostOutcome::Failed(reason)) => return Err(RecordError::Close(reason)),
            Some(other) => return Err(RecordError::Close(format!("{other:?}"))),
            None => return Err(RecordError::OutOfTime),
        };
        let removed = match row {
            Some(row) => self.store.remove_if_same(id, row.connected_at).await,
            None => self.store.remove(id).await.map(|()| true),
        };
        if let Err(e) = removed {
            // The socket is closed; `$disconnect` and TTL remove the row if we could not.
            let error = error_chain(&e);
            warn!(connection_id = %id, %error, "closed connection's row not removed");
        }
        if closed {
            info!(connection_id = %id, "unauthenticated connection closed");
        } else {
            debug!(connection_id = %id, "connection already gone at its auth deadline");
        }
        self.metrics.put(&[(Metric::IntentsProcessed, 1.0)]);
        Ok(())
    }

    /// The record of an intent whose connections failed every attempt allowed. Counted
    /// once, on its first receive, though SQS delivers it until its redrive moves it to
    /// the dead-letter queue.
    fn exhausted(&self, intent: &Intent, record: &SqsMessage) -> RecordError {
        let first_receive = record
            .attributes
            .get(RECEIVE_COUNT)
            .and_then(|n| n.parse::<u32>().ok())
            .is_none_or(|n| n <= 1);
        if first_receive {
            self.metrics.put(&[(Metric::IntentsDeadLettered, 1.0)]);
        }
        RecordError::Exhausted {
            attempts: intent.progress.attempt,
            connections: intent.progress.connections.len(),
        }
    }

    /// Sends follow-up intents, trying refused ones once more. Losing one would lose
    /// deliveries, so whatever is still refused fails the record and SQS redelivers it.
    async fn enqueue(&self, messages: &[Outgoing]) -> Result<(), RecordError> {
        let mut pending: Vec<Outgoing> = messages.to_vec();
        let mut last_error = None;
        for _ in 0..2 {
            if pending.is_empty() {
                return Ok(());
            }
            let results = self.queue.send_many(&pending).await;
            let mut refused = Vec::new();
            for (message, result) in pending.into_iter().zip(results) {
                if let Err(e) = result {
                    last_error = Some(e);
                    refused.push(message);
                }
            }
            pending = refused;
        }
        match last_error {
            Some(source) if !pending.is_empty() => Err(RecordError::Enqueue {
                count: pending.len(),
                source,
            }),
            _ => Ok(()),
        }
    }
}

/// Logs a failed record once, at the level its cause deserves.
fn report(e: &RecordError) {
    let text = error_chain(e);
    match e {
        RecordError::NoBody | RecordError::Refused(_) | RecordError::CloseTarget(_) => {
            warn!(error = %text, "intent refused");
        }
        RecordError::Forbidden => error!(error = %text, "record failed: configuration fault"),
        RecordError::Exhausted { .. } | RecordError::PayloadTooLarge => {
            error!(error = %text, "record failed: intent is poison");
        }
        _ => warn!(error = %text, "record failed; SQS will deliver it again"),
    }
}

fn audience(audience: Audience, intent: &Intent) -> Source {
    Source::Audience {
        audience,
        cursor: intent.progress.cursor.clone(),
    }
}

/// The same intent, resuming its audience at `cursor`.
fn continuation(intent: &Intent, cursor: Option<Cursor>) -> Result<String, RecordError> {
    let mut rest = intent.clone();
    rest.progress.cursor = cursor;
    rest.progress.connections = Vec::new();
    rest.progress.attempt = 0;
    rest.to_body().map_err(RecordError::FollowUp)
}

/// The same intent for `ids` only, as attempt number `attempt`. The segment is kept so an
/// `all` retry is never split again.
fn retry(intent: &Intent, ids: &[String], attempt: u32) -> Result<String, RecordError> {
    let mut again = intent.clone();
    again.progress.cursor = None;
    again.progress.connections = ids.to_vec();
    again.progress.attempt = attempt;
    again.to_body().map_err(RecordError::FollowUp)
}

/// `deadline - margin`; a time already past simply means "stop now".
fn before(deadline: Instant, margin: Duration) -> Instant {
    deadline.checked_sub(margin).unwrap_or_else(Instant::now)
}

fn sent_at(record: &SqsMessage) -> Option<i64> {
    record.attributes.get(SENT_TIMESTAMP)?.parse().ok()
}
