//! Many real WebSocket clients, each a task that counts the text frames it receives.
//!
//! Clients bind to several loopback source addresses in turn (127.0.0.1 to 127.0.0.8),
//! so tens of thousands of connections, and the `TIME_WAIT` they leave behind, never run
//! short of ephemeral ports. A handshake refused with 429 (the stage throttle) is tried
//! again after a pause, a bounded number of times.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _, stream};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::BenchError;
use crate::stack;

/// A client's socket.
pub type Socket = WebSocketStream<TcpStream>;

/// Loopback source addresses clients are spread over.
const SOURCE_ADDRESSES: u8 = 8;
/// Handshakes in flight at once while a herd connects.
pub const CONNECT_CONCURRENCY: usize = 64;
/// Longest one handshake (and its `auth` reply) may take.
const HANDSHAKE_PATIENCE: Duration = Duration::from_secs(30);
/// Tries of one handshake refused with 429.
const THROTTLED_TRIES: u32 = 200;

/// Where clients connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// The full URL, path included.
    pub url: String,
}

/// Clients that stay connected and count what they receive.
pub struct Herd {
    target: Target,
    auth: bool,
    counts: Arc<Counts>,
    tasks: JoinSet<()>,
    opened: usize,
    /// Handshakes refused with 429 and tried again.
    pub throttled: u64,
}

/// Frame counts shared by every client task of a herd.
struct Counts {
    per_client: Vec<AtomicU32>,
    total: AtomicU64,
    /// Nanoseconds since `epoch` of the latest frame.
    last: AtomicU64,
    epoch: Instant,
}

/// What a herd received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tally {
    /// Frames received in all.
    pub frames: u64,
    /// Frames expected but not received, over every client.
    pub missing: u64,
    /// Frames received beyond the expected count, over every client.
    pub duplicates: u64,
    /// Share of expected frames that arrived.
    pub delivery: f64,
}

impl Target {
    /// Parses a `ws://host:port/path` URL on loopback.
    pub fn parse(url: &str) -> Result<Self, BenchError> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| BenchError::Failed(format!("not a ws:// URL: {url}")))?;
        let host = rest.split('/').next().unwrap_or_default();
        let addr = host
            .parse()
            .map_err(|e| BenchError::Failed(format!("address of {url}: {e}")))?;
        Ok(Self {
            addr,
            url: url.to_owned(),
        })
    }
}

impl Herd {
    /// An empty herd for at most `capacity` clients; `auth` makes each client
    /// authenticate as user `u{index}` before it counts frames.
    pub fn new(target: Target, capacity: usize, auth: bool) -> Self {
        Self {
            target,
            auth,
            counts: Arc::new(Counts {
                per_client: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
                total: AtomicU64::new(0),
                last: AtomicU64::new(0),
                epoch: Instant::now(),
            }),
            tasks: JoinSet::new(),
            opened: 0,
            throttled: 0,
        }
    }

    /// Clients connected so far.
    pub fn len(&self) -> usize {
        self.opened
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.opened == 0
    }

    /// Connects `more` clients, [`CONNECT_CONCURRENCY`] at a time, and returns once every
    /// one of them is open (and authenticated, for an authenticating herd).
    pub async fn grow(&mut self, more: usize) -> Result<(), BenchError> {
        let first = self.opened;
        let last = (first + more).min(self.counts.per_client.len());
        let (target, auth) = (self.target.clone(), self.auth);
        let mut opened = stream::iter(first..last)
            .map(|index| {
                let target = target.clone();
                async move { (index, open(&target, index, auth).await) }
            })
            .buffer_unordered(CONNECT_CONCURRENCY);
        while let Some((index, result)) = opened.next().await {
            let (socket, throttled) = result?;
            self.throttled += u64::from(throttled);
            let counts = Arc::clone(&self.counts);
            self.tasks.spawn(count_frames(socket, index, counts));
            self.opened += 1;
        }
        Ok(())
    }

    /// Frames received so far by every client together.
    pub fn frames(&self) -> u64 {
        self.counts.total.load(Ordering::Relaxed)
    }

    /// Waits until at least `frames` have arrived, for at most `patience`; returns when
    /// the last of them arrived, or `None` if they did not all arrive in time.
    pub async fn wait_frames(&self, frames: u64, patience: Duration) -> Option<Instant> {
        let give_up = Instant::now() + patience;
        loop {
            if self.frames() >= frames {
                let nanos = self.counts.last.load(Ordering::Relaxed);
                return Some(self.counts.epoch + Duration::from_nanos(nanos));
            }
            if Instant::now() >= give_up {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Compares what each client received with `each` frames per client.
    pub fn tally(&self, each: u32) -> Tally {
        let mut tally = Tally {
            frames: self.frames(),
            missing: 0,
            duplicates: 0,
            delivery: 1.0,
        };
        for count in self.counts.per_client.iter().take(self.opened) {
            let count = count.load(Ordering::Relaxed);
            tally.missing += u64::from(each.saturating_sub(count));
            tally.duplicates += u64::from(count.saturating_sub(each));
        }
        let expected = u64::from(each) * self.opened as u64;
        if expected > 0 {
            tally.delivery = (expected - tally.missing) as f64 / expected as f64;
        }
        tally
    }

    /// Drops every client; the server sees the connections reset.
    pub async fn close(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Opens one client: handshake from a rotating loopback source address, then `auth` as
/// user `u{index}` if asked. Returns the socket and how many 429s it took.
pub async fn open(target: &Target, index: usize, auth: bool) -> Result<(Socket, u32), BenchError> {
    let mut throttled = 0;
    let mut socket = loop {
        match handshake(target, index).await {
            Ok(socket) => break socket,
            Err(WsError::Http(response))
                if response.status() == 429 && throttled < THROTTLED_TRIES =>
            {
                throttled += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(BenchError::Failed(format!("handshake {index}: {e}"))),
        }
    };
    if auth {
        authenticate(&mut socket, &format!("u{index}")).await?;
    }
    Ok((socket, throttled))
}

/// The next text frame, skipping control frames, within `patience`.
pub async fn next_text(socket: &mut Socket, patience: Duration) -> Result<String, BenchError> {
    let give_up = Instant::now() + patience;
    loop {
        let next = tokio::time::timeout_at(give_up, socket.next())
            .await
            .map_err(|_| BenchError::Timeout("waiting for a frame".into()))?;
        match next {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(Message::Close(frame))) => {
                return Err(BenchError::Failed(format!("server closed: {frame:?}")));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(BenchError::Failed(format!("socket: {e}"))),
            None => return Err(BenchError::Failed("socket ended".into())),
        }
    }
}

async fn handshake(target: &Target, index: usize) -> Result<Socket, WsError> {
    let source = Ipv4Addr::new(127, 0, 0, 1 + (index % usize::from(SOURCE_ADDRESSES)) as u8);
    let connect = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        let stream = socket.connect(target.addr).await?;
        stream.set_nodelay(true)?;
        Ok::<_, std::io::Error>(stream)
    };
    let attempt = async {
        let stream = connect.await.map_err(WsError::Io)?;
        let (socket, _) = tokio_tungstenite::client_async(target.url.as_str(), stream).await?;
        Ok(socket)
    };
    tokio::time::timeout(HANDSHAKE_PATIENCE, attempt)
        .await
        .unwrap_or_else(|_| Err(WsError::Io(std::io::ErrorKind::TimedOut.into())))
}

async fn authenticate(socket: &mut Socket, user: &str) -> Result<(), BenchError> {
    let frame = serde_json::json!({"action": "auth", "token": stack::token(user)}).to_string();
    socket
        .send(Message::text(frame))
        .await
        .map_err(|e| BenchError::Failed(format!("sending auth: {e}")))?;
    let give_up = Instant::now() + HANDSHAKE_PATIENCE;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        let text = next_text(socket, left).await?;
        let reply: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if reply["action"] == "auth" {
            return match reply["success"].as_bool() {
                Some(true) => Ok(()),
                _ => Err(BenchError::Failed(format!("auth refused: {text}"))),
            };
        }
    }
}

async fn count_frames(mut socket: Socket, index: usize, counts: Arc<Counts>) {
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(_) | Message::Binary(_) = message {
            counts.per_client[index].fetch_add(1, Ordering::Relaxed);
            let nanos = u64::try_from(counts.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
            counts.last.fetch_max(nanos, Ordering::Relaxed);
            counts.total.fetch_add(1, Ordering::Relaxed);
        }
    }
}
