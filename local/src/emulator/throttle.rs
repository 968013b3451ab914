//! Stage throttling: one token bucket shared by every route of the stage.
//!
//! API Gateway throttles WebSocket requests per stage with a token bucket: `burst` tokens
//! at most, refilled at `rate` per second, one token per `$connect` or message. A refused
//! `$connect` fails the handshake with 429; a refused message is answered on the socket
//! with a `Too Many Requests` frame and the connection stays open. `$disconnect` is never
//! throttled, nor is the Management API (that one has an account-wide limit instead).

use std::sync::Mutex;

use tokio::time::Instant;

/// Steady rate and burst of the stage throttle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleConfig {
    /// Tokens added per second.
    pub rate: f64,
    /// Bucket size: requests admitted at once after a quiet period.
    pub burst: u32,
}

impl Default for ThrottleConfig {
    /// API Gateway's account defaults, which a stage inherits unless configured lower.
    fn default() -> Self {
        Self {
            rate: 10_000.0,
            burst: 5_000,
        }
    }
}

/// A token bucket on `tokio::time`, so tests on a paused clock see it refill.
#[derive(Debug)]
pub struct TokenBucket {
    config: ThrottleConfig,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State {
                tokens: f64::from(config.burst),
                updated: Instant::now(),
            }),
        }
    }

    /// Takes one token; `false` when the request is to be throttled.
    pub fn try_acquire(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        let capacity = f64::from(self.config.burst);
        state.tokens = (state.tokens + elapsed * self.config.rate).min(capacity);
        state.updated = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_admits_burst_then_refills_at_rate() {
        let bucket = TokenBucket::new(ThrottleConfig {
            rate: 2.0,
            burst: 3,
        });
        assert_eq!((0..5).filter(|_| bucket.try_acquire()).count(), 3);

        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(bucket.try_acquire());
        assert!(!bucket.try_acquire());

        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!((0..10).filter(|_| bucket.try_acquire()).count(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_burst_refuses_everything() {
        let bucket = TokenBucket::new(ThrottleConfig {
            rate: 100.0,
            burst: 0,
        });
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!bucket.try_acquire());
    }
}
