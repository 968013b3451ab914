//! A fake Management API on loopback, for tests and benchmarks (feature `testing`).
//!
//! It answers `POST`, `GET` and `DELETE` on `/{stage}/@connections/{id}` like API Gateway:
//! 2xx by default, or whatever a test scripted for a connection id (410, 429, 500, 403,
//! 413, or a slow 200). Every call is recorded with its raw path, so tests can check the
//! wire itself, including how connection ids were encoded; a path outside the stage gets
//! API Gateway's 403, as a wrong endpoint would.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use tokio::task::JoinHandle;

use crate::management::ManagementPoster;

/// How the fake answers one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 (POST, GET) or 204 (DELETE).
    Ok,
    /// 410 `GoneException`.
    Gone,
    /// 429 `LimitExceededException`.
    Throttled,
    /// 500 `InternalServerErrorException`.
    ServerError,
    /// 403 `ForbiddenException`.
    Forbidden,
    /// 413 `PayloadTooLargeException`.
    TooLarge,
    /// 400 `BadRequestException`, as for a malformed connection id.
    BadRequest,
    /// 200, after waiting this long.
    Slow(Duration),
}

/// One call as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `POST`, `GET` or `DELETE`.
    pub method: String,
    /// The request path exactly as it arrived, percent-encoding included.
    pub path: String,
    /// The connection id, percent-decoded once; empty for paths outside the stage.
    pub connection_id: String,
    /// The request body.
    pub body: Vec<u8>,
    /// The client's address, which tells connections apart.
    pub peer: SocketAddr,
    /// What the fake answered.
    pub answer: Answer,
}

/// A running fake Management API. Dropping it stops the server.
pub struct FakeManagementApi {
    addr: SocketAddr,
    stage: String,
    state: Arc<Shared>,
    server: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Answers per connection id, used in order; the last one repeats.
    scripts: HashMap<String, VecDeque<Answer>>,
    default: Option<Answer>,
    /// Completed 2xx posts per connection id.
    delivered: HashMap<String, usize>,
}

impl FakeManagementApi {
    /// Starts the fake on `127.0.0.1`, on a free port, serving `stage`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(stage: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let state = Arc::new(Shared::default());
        let app = Router::new()
            .fallback(answer)
            .with_state((state.clone(), format!("/{stage}/@connections/")));
        let server = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, service).await;
        });
        Self {
            addr,
            stage: stage.to_owned(),
            state,
            server,
        }
    }

    /// The base URL to configure as `WEBSOCKET_ENDPOINT`, stage included.
    pub fn endpoint(&self) -> String {
        format!("http://{}/{}", self.addr, self.stage)
    }

    /// A [`ManagementPoster`] on the real SDK, pointed at this fake with dummy credentials.
    pub async fn poster(&self, timeout: Duration) -> ManagementPoster {
        ManagementPoster::new(&sdk_config().await, &self.endpoint(), timeout)
    }

    /// Scripts the answers for `connection_id`, in order; the last one repeats.
    pub fn script(&self, connection_id: &str, answers: impl IntoIterator<Item = Answer>) {
        let answers: VecDeque<Answer> = answers.into_iter().collect();
        assert!(!answers.is_empty(), "a script needs at least one answer");
        self.lock()
            .scripts
            .insert(connection_id.to_owned(), answers);
    }

    /// Answers every connection without a script with `answer`.
    pub fn answer_all(&self, answer: Answer) {
        self.lock().default = Some(answer);
    }

    /// Forgets every script and default: everyone gets 2xx again.
    pub fn heal(&self) {
        let mut inner = self.lock();
        inner.scripts.clear();
        inner.default = None;
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Posts (of any outcome) made to `connection_id`.
    pub fn posts_to(&self, connection_id: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == "POST" && c.connection_id == connection_id)
            .count()
    }

    /// Completed 2xx posts per connection id: what each client would have received.
    pub fn deliveries(&self) -> HashMap<String, usize> {
        self.lock().delivered.clone()
    }

    /// Completed 2xx posts to `connection_id`.
    pub fn delivered_to(&self, connection_id: &str) -> usize {
        self.lock()
            .delivered
            .get(connection_id)
            .copied()
            .unwrap_or(0)
    }

    /// Connection ids that got a `DELETE`, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == "DELETE")
            .map(|c| c.connection_id.clone())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock()
    }
}

impl Drop for FakeManagementApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn next_answer(&mut self, connection_id: &str) -> Answer {
        match self.scripts.get_mut(connection_id) {
            Some(script) if script.len() > 1 => script.pop_front().unwrap_or(Answer::Ok),
            Some(script) => script.front().copied().unwrap_or(Answer::Ok),
            None => self.default.unwrap_or(Answer::Ok),
        }
    }
}

/// SDK configuration for the fake: dummy credentials, a fixed region, nothing read from
/// the developer's environment that could point elsewhere.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(switchboard::aws::DEFAULT_REGION))
        .credentials_provider(switchboard::aws::dummy_credentials())
        .load()
        .await
}

type AppState = (Arc<Shared>, String);

async fn answer(
    State((state, prefix)): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let connection_id = path
        .strip_prefix(&prefix)
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(|id| percent_decode_str(id).decode_utf8_lossy().into_owned());
    let answer = match &connection_id {
        Some(id) => state.lock().next_answer(id),
        None => Answer::Forbidden,
    };
    let connection_id = connection_id.unwrap_or_default();
    state.lock().calls.push(Call {
        method: method.to_string(),
        path,
        connection_id: connection_id.clone(),
        body: body.to_vec(),
        peer,
        answer,
    });
    let status = match answer {
        Answer::Ok => success(&method),
        Answer::Slow(wait) => {
            tokio::time::sleep(wait).await;
            success(&method)
        }
        Answer::Gone => return error(StatusCode::GONE, "GoneException"),
        Answer::Throttled => {
            return error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException");
        }
        Answer::ServerError => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerErrorException",
            );
        }
        Answer::Forbidden => return error(StatusCode::FORBIDDEN, "ForbiddenException"),
        Answer::TooLarge => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeException");
        }
        Answer::BadRequest => return error(StatusCode::BAD_REQUEST, "BadRequestException"),
    };
    if method == Method::POST {
        *state.lock().delivered.entry(connection_id).or_default() += 1;
    }
    status.into_response()
}

fn success(method: &Method) -> StatusCode {
    if method == Method::DELETE {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    }
}

/// An error the way API Gateway's REST-JSON protocol carries it: the type in a header,
/// a message in the body.
fn error(status: StatusCode, kind: &'static str) -> Response {
    let mut response = (status, format!(r#"{{"message":"{kind}"}}"#)).into_response();
    let headers = response.headers_mut();
    headers.insert("x-amzn-errortype", HeaderValue::from_static(kind));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    response
}
