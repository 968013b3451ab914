//! How long to wait before trying again: within an invocation, and between retry intents.

use std::future::Future;
use std::time::{Duration, Instant};

use rand::Rng as _;

use crate::poster::PostOutcome;

/// The worker's retry timing.
///
/// Two levels, because they answer different failures. A throttle or a 5xx often clears
/// in milliseconds, so a post is tried again a few times inside the invocation with full
/// jitter (spreading the retries of a large broadcast instead of hitting the account's
/// rate limit in lock-step). What still fails waits longer in the queue, as a retry intent
/// whose SQS delay grows with each attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Extra tries of one post inside the invocation. Default 2.
    pub retries: u32,
    /// Ceiling of the first in-invocation wait; doubles per try. Default 50 ms.
    pub base: Duration,
    /// Longest in-invocation wait. Default 1 s.
    pub cap: Duration,
    /// SQS delay of the first retry intent; doubles per attempt. Default 2 s.
    pub requeue_base: Duration,
    /// Longest SQS delay (SQS allows 15 minutes). Default 60 s.
    pub requeue_cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            retries: 2,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(1),
            requeue_base: Duration::from_secs(2),
            requeue_cap: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before in-invocation try `tries + 1`, after `tries` have failed: a random
    /// duration up to `base * 2^(tries - 1)`, never above `cap`.
    pub fn pause(&self, tries: u32) -> Duration {
        let ceiling = exponential(self.base, tries.saturating_sub(1), self.cap);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }

    /// The SQS delay of a retry intent carrying attempt number `attempt` (1 for the first
    /// retry). Not jittered: the in-invocation retries already spread the posts, and SQS
    /// delays are whole seconds anyway.
    pub fn requeue_delay(&self, attempt: u32) -> Duration {
        exponential(
            self.requeue_base,
            attempt.saturating_sub(1),
            self.requeue_cap,
        )
    }
}

/// How a call fared over its tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tries {
    /// The last answer; `None` when the call was never made.
    pub last: Option<PostOutcome>,
    /// Calls made.
    pub count: u32,
    /// Calls answered 429.
    pub throttled: u32,
}

impl Backoff {
    /// Makes `call` until it answers something not worth retrying, the retries run out, or
    /// the next pause would end after `stop_at`. `call` answers `None` to give up before
    /// calling (the record halted, or time ran out while it waited for a permit).
    pub(crate) async fn retrying<F, Fut>(&self, stop_at: Instant, mut call: F) -> Tries
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<PostOutcome>>,
    {
        let mut tries = Tries {
            last: None,
            count: 0,
            throttled: 0,
        };
        loop {
            let Some(outcome) = call().await else {
                return tries;
            };
            tries.count += 1;
            if outcome == PostOutcome::Throttled {
                tries.throttled += 1;
            }
            let again = outcome.is_retryable() && tries.count <= self.retries;
            tries.last = Some(outcome);
            if !again {
                return tries;
            }
            let pause = self.pause(tries.count);
            if Instant::now() + pause >= stop_at {
                return tries;
            }
            tokio::time::sleep(pause).await;
        }
    }
}

/// `base * 2^doublings`, at most `cap`.
fn exponential(base: Duration, doublings: u32, cap: Duration) -> Duration {
    base.checked_mul(1 << doublings.min(20))
        .map_or(cap, |d| d.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_stays_under_the_doubling_ceiling() {
        let backoff = Backoff::default();
        for _ in 0..200 {
            assert!(backoff.pause(1) <= Duration::from_millis(50));
            assert!(backoff.pause(3) <= Duration::from_millis(200));
            assert!(backoff.pause(30) <= Duration::from_secs(1));
        }
    }

    /// Answers `script` in order, counting the calls.
    fn scripted(
        script: Vec<PostOutcome>,
    ) -> impl FnMut() -> std::future::Ready<Option<PostOutcome>> {
        let mut answers = script.into_iter();
        move || std::future::ready(answers.next())
    }

    fn quick() -> Backoff {
        Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
            ..Backoff::default()
        }
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[tokio::test]
    async fn retrying_stops_at_an_answer_not_worth_retrying() {
        let script = vec![
            PostOutcome::Throttled,
            PostOutcome::Gone,
            PostOutcome::Delivered,
        ];
        let tries = quick().retrying(later(), scripted(script)).await;
        assert_eq!(tries.last, Some(PostOutcome::Gone));
        assert_eq!((tries.count, tries.throttled), (2, 1));
    }

    #[tokio::test]
    async fn retrying_gives_up_when_the_budget_is_spent() {
        let script = vec![PostOutcome::Failed("500".into()); 10];
        let tries = quick().retrying(later(), scripted(script)).await;
        assert_eq!(tries.count, 3, "one try and two retries");
        assert_eq!(tries.last, Some(PostOutcome::Failed("500".into())));
    }

    #[tokio::test]
    async fn retrying_does_not_pause_past_the_stop() {
        let script = vec![PostOutcome::Throttled; 10];
        let tries = quick().retrying(Instant::now(), scripted(script)).await;
        assert_eq!(tries.count, 1);
    }

    #[tokio::test]
    async fn retrying_reports_no_answer_when_the_call_is_never_made() {
        let tries = quick().retrying(later(), scripted(Vec::new())).await;
        assert_eq!((tries.last, tries.count), (None, 0));
    }

    #[test]
    fn requeue_delay_doubles_up_to_the_cap() {
        let backoff = Backoff::default();
        assert_eq!(backoff.requeue_delay(1), Duration::from_secs(2));
        assert_eq!(backoff.requeue_delay(2), Duration::from_secs(4));
        assert_eq!(backoff.requeue_delay(5), Duration::from_secs(32));
        assert_eq!(backoff.requeue_delay(6), Duration::from_secs(60));
        assert_eq!(backoff.requeue_delay(40), Duration::from_secs(60));
    }
}
