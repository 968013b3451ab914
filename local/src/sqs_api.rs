//! An SQS-compatible endpoint for the dev server's intents queue.
//!
//! A backend's unchanged production code, with its SQS endpoint pointed at `switchboard
//! dev`, publishes locally: `SendMessage`, `SendMessageBatch` and `GetQueueUrl` in the SQS
//! JSON protocol (`X-Amz-Target: AmazonSQS.<Operation>`, `application/x-amz-json-1.0`),
//! which current AWS SDKs and the AWS CLI speak. Signatures are accepted unverified.
//!
//! Like SQS, the endpoint accepts any body: an invalid intent is refused later by the
//! worker, logged with its reason, and ends in the dead-letter queue.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard::limits::{MAX_QUEUE_DELAY_SECS, MAX_QUEUE_MESSAGE_BYTES, QUEUE_BATCH};
use switchboard::queue::{Outgoing, QueueError, SharedQueue};

/// The account id in local queue URLs, as other local AWS emulators use.
pub const LOCAL_ACCOUNT: &str = "000000000000";

const JSON_1_0: &str = "application/x-amz-json-1.0";

/// Largest request read. SQS counts a batch's 1 MiB in message bytes, and JSON escaping
/// can make each byte six on the wire (`\u00e9`), so the request limit sits well above it.
const MAX_REQUEST_BYTES: usize = 8 * MAX_QUEUE_MESSAGE_BYTES;

/// Longest batch entry id, and its alphabet, as SQS checks them.
const MAX_ENTRY_ID_CHARS: usize = 80;

/// The queue this endpoint serves.
#[derive(Clone)]
pub struct SqsEndpoint {
    queue: SharedQueue,
    name: Arc<str>,
    url: Arc<str>,
}

impl SqsEndpoint {
    /// Serves `queue` under `name`, at `base` (`http://127.0.0.1:3001`).
    pub fn new(queue: SharedQueue, base: &str, name: &str) -> Self {
        let url = format!("{}/{LOCAL_ACCOUNT}/{name}", base.trim_end_matches('/'));
        Self {
            queue,
            name: name.into(),
            url: url.into(),
        }
    }

    /// The queue URL that `GetQueueUrl` answers and `SendMessage` expects.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The routes: `POST /`, where SQS JSON-protocol clients send every operation.
    pub fn routes(self) -> Router {
        Router::new()
            .route("/", post(dispatch).fallback(crate::emulator::forbidden))
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(self)
    }

    fn check_queue(&self, queue_url: &str) -> Result<(), SqsError> {
        // Clients may address the queue by any host they reached us on; the name decides.
        let name = queue_url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        if name == &*self.name {
            Ok(())
        } else {
            Err(SqsError::no_queue())
        }
    }
}

/// An SQS error in the JSON protocol's shape.
#[derive(Debug)]
struct SqsError {
    status: StatusCode,
    code: &'static str,
    query_code: &'static str,
    message: String,
}

impl SqsError {
    fn new(code: &'static str, query_code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            query_code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", "InvalidParameterValue", message)
    }

    fn no_queue() -> Self {
        Self::new(
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        )
    }
}

impl IntoResponse for SqsError {
    fn into_response(self) -> Response {
        let fault = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body =
            json!({"__type": format!("com.amazonaws.sqs#{}", self.code), "message": self.message});
        (
            self.status,
            [
                (header::CONTENT_TYPE, JSON_1_0.to_owned()),
                (
                    header::HeaderName::from_static("x-amzn-query-error"),
                    format!("{};{fault}", self.query_code),
                ),
            ],
            body.to_string(),
        )
            .into_response()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendMessage {
    queue_url: String,
    message_body: String,
    #[serde(default)]
    delay_seconds: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendMessageBatch {
    queue_url: String,
    #[serde(default)]
    entries: Vec<BatchEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchEntry {
    id: String,
    message_body: String,
    #[serde(default)]
    delay_seconds: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetQueueUrl {
    queue_name: String,
}

async fn dispatch(
    State(endpoint): State<SqsEndpoint>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            tracing::info!(operation = target, error = %e, "sqs request unreadable");
            let message = format!(
                "the request could not be read ({e}); at most \
                 {MAX_REQUEST_BYTES} bytes are read"
            );
            return SqsError::invalid(message).into_response();
        }
    };
    let result = match target.strip_prefix("AmazonSQS.") {
        Some("SendMessage") => send_message(&endpoint, &body).await,
        Some("SendMessageBatch") => send_message_batch(&endpoint, &body).await,
        Some("GetQueueUrl") => get_queue_url(&endpoint, &body),
        Some(other) => Err(SqsError::new(
            "UnsupportedOperation",
            "AWS.SimpleQueueService.UnsupportedOperation",
            format!(
                "switchboard dev serves SendMessage, SendMessageBatch and GetQueueUrl, not {other}"
            ),
        )),
        None => Err(SqsError::new(
            "InvalidAction",
            "InvalidAction",
            "expected the SQS JSON protocol (X-Amz-Target: AmazonSQS.<Operation>); \
             the query protocol is not served",
        )),
    };
    match result {
        Ok(value) => ([(header::CONTENT_TYPE, JSON_1_0)], value.to_string()).into_response(),
        Err(e) => {
            let (code, message) = (e.code, &e.message);
            tracing::info!(operation = target, code, %message, "sqs request refused");
            e.into_response()
        }
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, SqsError> {
    serde_json::from_slice(body).map_err(|e| {
        SqsError::new(
            "MissingParameter",
            "MissingParameter",
            format!("malformed request: {e}"),
        )
    })
}

async fn send_message(endpoint: &SqsEndpoint, body: &[u8]) -> Result<Value, SqsError> {
    let request: SendMessage = parse(body)?;
    endpoint.check_queue(&request.queue_url)?;
    let outgoing = outgoing(request.message_body, request.delay_seconds)?;
    let md5 = md5_hex(&outgoing.body);
    let message_id = endpoint.queue.send(outgoing).await.map_err(|e| match e {
        QueueError::Rejected(entry) => SqsError::invalid(entry.message),
        other => SqsError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError",
            query_code: "InternalError",
            message: other.to_string(),
        },
    })?;
    Ok(json!({"MessageId": message_id, "MD5OfMessageBody": md5}))
}

async fn send_message_batch(endpoint: &SqsEndpoint, body: &[u8]) -> Result<Value, SqsError> {
    let request: SendMessageBatch = parse(body)?;
    endpoint.check_queue(&request.queue_url)?;
    if request.entries.is_empty() {
        return Err(SqsError::new(
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        ));
    }
    if request.entries.len() > QUEUE_BATCH {
        return Err(SqsError::new(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!("Maximum number of entries per request are {QUEUE_BATCH}."),
        ));
    }
    if let Some(entry) = request.entries.iter().find(|e| !valid_entry_id(&e.id)) {
        return Err(SqsError::new(
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            format!(
                "A batch entry id can only contain alphanumeric characters, hyphens and \
                 underscores, at most {MAX_ENTRY_ID_CHARS} of them: {:?}",
                entry.id
            ),
        ));
    }
    let mut ids = HashSet::new();
    if !request.entries.iter().all(|e| ids.insert(e.id.as_str())) {
        return Err(SqsError::new(
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
        ));
    }
    let total: usize = request.entries.iter().map(|e| e.message_body.len()).sum();
    if total > MAX_QUEUE_MESSAGE_BYTES {
        return Err(SqsError::new(
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
            format!("Batch requests cannot be longer than {MAX_QUEUE_MESSAGE_BYTES} bytes."),
        ));
    }

    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for entry in request.entries {
        let sent = match outgoing(entry.message_body, entry.delay_seconds) {
            Ok(message) => {
                let md5 = md5_hex(&message.body);
                endpoint
                    .queue
                    .send(message)
                    .await
                    .map(|id| (id, md5))
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.message),
        };
        match sent {
            Ok((message_id, md5)) => successful.push(json!({
                "Id": entry.id, "MessageId": message_id, "MD5OfMessageBody": md5,
            })),
            Err(message) => failed.push(json!({
                "Id": entry.id,
                "SenderFault": true,
                "Code": "InvalidParameterValue",
                "Message": message,
            })),
        }
    }
    Ok(json!({"Successful": successful, "Failed": failed}))
}

fn get_queue_url(endpoint: &SqsEndpoint, body: &[u8]) -> Result<Value, SqsError> {
    let request: GetQueueUrl = parse(body)?;
    if request.queue_name != *endpoint.name {
        return Err(SqsError::no_queue());
    }
    Ok(json!({"QueueUrl": endpoint.url()}))
}

/// Whether `id` is a batch entry id SQS accepts.
fn valid_entry_id(id: &str) -> bool {
    (1..=MAX_ENTRY_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// SQS's own checks: body size and delay.
fn outgoing(body: String, delay_seconds: Option<i64>) -> Result<Outgoing, SqsError> {
    if body.len() > MAX_QUEUE_MESSAGE_BYTES {
        return Err(SqsError::invalid(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than \
             {MAX_QUEUE_MESSAGE_BYTES} bytes."
        )));
    }
    if body.is_empty() {
        return Err(SqsError::invalid(
            "The request must contain the parameter MessageBody.",
        ));
    }
    let delay = delay_seconds.unwrap_or(0);
    let Some(delay) = u64::try_from(delay)
        .ok()
        .filter(|d| *d <= MAX_QUEUE_DELAY_SECS)
    else {
        return Err(SqsError::invalid(format!(
            "Value {delay} for parameter DelaySeconds is invalid. Reason: must be between 0 and \
             {MAX_QUEUE_DELAY_SECS}, if provided."
        )));
    };
    Ok(Outgoing {
        body,
        delay: (delay > 0).then(|| Duration::from_secs(delay)),
    })
}

/// SDKs check this digest of the body they sent.
fn md5_hex(body: &str) -> String {
    Md5::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_the_known_digest() {
        assert_eq!(md5_hex("hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn queue_is_matched_by_name_whatever_the_host() {
        let queue = switchboard::queue::MemoryQueue::new(Default::default());
        let endpoint = SqsEndpoint::new(queue, "http://127.0.0.1:3001/", "intents");
        assert_eq!(endpoint.url(), "http://127.0.0.1:3001/000000000000/intents");
        assert!(
            endpoint
                .check_queue("http://localhost:3001/000000000000/intents")
                .is_ok()
        );
        assert!(
            endpoint
                .check_queue("http://127.0.0.1:3001/000000000000/other")
                .is_err()
        );
    }

    #[test]
    fn batch_entry_ids_are_checked_like_sqs() {
        assert!(valid_entry_id("a-B_9"));
        assert!(valid_entry_id(&"a".repeat(80)));
        for bad in ["", "a b!", "é", &"a".repeat(81)] {
            assert!(!valid_entry_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn delay_and_size_are_checked_like_sqs() {
        assert!(outgoing("x".into(), Some(901)).is_err());
        let negative = outgoing("x".into(), Some(-1)).unwrap_err();
        assert_eq!(negative.code, "InvalidParameterValue");
        assert!(outgoing("x".repeat(MAX_QUEUE_MESSAGE_BYTES + 1), None).is_err());
        let ok = outgoing("x".into(), Some(5)).unwrap();
        assert_eq!(ok.delay, Some(Duration::from_secs(5)));
    }
}
