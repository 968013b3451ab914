//! The Lambda boundary: an SQS event read leniently, and the invocation's deadline.
//!
//! Lambda hands the function raw JSON. Reading it as a whole `SqsEvent` would let one
//! malformed record fail the batch; reading record by record keeps the good ones and
//! names the bad ones in the batch response.

use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use serde::Deserialize as _;
use serde_json::Value;

/// Time kept between our answer and Lambda's deadline, for the runtime to send the
/// response and for clock skew between the runtime API and this process.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// An SQS event as far as it could be read.
#[derive(Debug, Default)]
pub struct Batch {
    /// The records that deserialised.
    pub event: SqsEvent,
    /// `messageId`s of records that did not (empty when a record had none).
    pub unreadable: Vec<String>,
}

/// The payload is not an SQS event at all.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// No `Records` array: nothing to answer per record, so the invocation fails.
    #[error("event has no \"Records\" array")]
    NoRecords,
}

/// Reads an SQS event, keeping every record that deserialises.
pub fn read(payload: Value) -> Result<Batch, EventError> {
    let records = match payload {
        Value::Object(mut fields) => match fields.remove("Records") {
            Some(Value::Array(records)) => records,
            _ => return Err(EventError::NoRecords),
        },
        _ => return Err(EventError::NoRecords),
    };
    let mut batch = Batch::default();
    for record in records {
        let message_id = record
            .get("messageId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match SqsMessage::deserialize(record) {
            Ok(message) => batch.event.records.push(message),
            Err(_) => batch.unreadable.push(message_id),
        }
    }
    Ok(batch)
}

/// When an invocation whose Lambda deadline is `deadline` must have answered.
pub fn answer_by(deadline: SystemTime) -> Instant {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_whole_event() {
        let batch = read(json!({"Records": [
            {"messageId": "a", "body": "x", "attributes": {}},
            {"messageId": "b", "body": "y"}
        ]}))
        .unwrap();
        let ids: Vec<_> = batch
            .event
            .records
            .iter()
            .map(|r| r.message_id.as_deref().unwrap())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(batch.unreadable.is_empty());
    }

    #[test]
    fn keeps_good_records_and_names_bad_ones() {
        let batch = read(json!({"Records": [
            {"messageId": "good", "body": "{}"},
            {"messageId": "bad", "body": 42},
            {"messageId": "worse", "attributes": "nope"}
        ]}))
        .unwrap();
        assert_eq!(batch.event.records.len(), 1);
        assert_eq!(batch.event.records[0].message_id.as_deref(), Some("good"));
        assert_eq!(batch.unreadable, ["bad", "worse"]);
    }

    #[test]
    fn payload_without_records_is_refused() {
        assert!(matches!(
            read(json!({"foo": 1})),
            Err(EventError::NoRecords)
        ));
        assert!(matches!(read(json!([1])), Err(EventError::NoRecords)));
    }

    #[test]
    fn answer_by_keeps_the_margin() {
        let deadline = SystemTime::now() + Duration::from_secs(10);
        let left = answer_by(deadline).duration_since(Instant::now());
        assert!(left <= Duration::from_millis(9_500), "{left:?}");
        assert!(left > Duration::from_millis(9_000), "{left:?}");
        let passed = SystemTime::now() - Duration::from_secs(1);
        assert!(answer_by(passed) <= Instant::now());
    }
}
