//! SQS records in the shape Lambda delivers them (see `tests/fixtures/events/sqs-*.json`).

use serde_json::{Value, json};
use switchboard::queue::Received;

/// `SenderId` of every record: there is no IAM principal locally.
const SENDER_ID: &str = "AIDALOCALSWITCHBOARD0";

/// The SQS event for `messages`, received at `received_at` (epoch milliseconds).
pub fn event(messages: &[Received], queue_arn: &str, region: &str, received_at: i64) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|message| record(message, queue_arn, region, received_at))
        .collect();
    json!({ "Records": records })
}

fn record(message: &Received, queue_arn: &str, region: &str, received_at: i64) -> Value {
    // SQS reports attribute values as strings, numbers included.
    json!({
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": message.receive_count.to_string(),
            "SentTimestamp": message.sent_at.to_string(),
            "SenderId": SENDER_ID,
            "ApproximateFirstReceiveTimestamp": received_at.to_string(),
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    })
}

/// The ARN SQS would give the queue at `url` (`…/{account}/{name}`), for records'
/// `eventSourceARN`.
pub fn queue_arn(url: &str, region: &str) -> String {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let name = parts.next().unwrap_or("queue");
    let account = parts
        .next()
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("000000000000");
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use aws_lambda_events::sqs::SqsEvent;

    use super::*;

    fn received() -> Received {
        Received {
            message_id: "m-1".into(),
            receipt_handle: "r-1".into(),
            body: r#"{"to":"all","data":1}"#.into(),
            receive_count: 2,
            sent_at: 1_545_082_649_183,
        }
    }

    fn keys(value: &Value) -> BTreeSet<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn records_have_the_fixture_shape_and_deserialise() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/events/sqs-standard.two-records.aws-docs.json"
        );
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let expected = &fixture["Records"][0];

        let event = event(
            &[received()],
            "arn:aws:sqs:us-east-1:000000000000:q",
            "us-east-1",
            7,
        );
        let record = &event["Records"][0];
        let mut expected_keys = keys(expected);
        // No MD5 locally: nothing reads it, and it would need an MD5 implementation.
        expected_keys.remove("md5OfBody");
        assert_eq!(keys(record), expected_keys);
        assert_eq!(keys(&record["attributes"]), keys(&expected["attributes"]));

        let parsed: SqsEvent = serde_json::from_value(event.clone()).unwrap();
        let message = &parsed.records[0];
        assert_eq!(message.message_id.as_deref(), Some("m-1"));
        assert_eq!(message.receipt_handle.as_deref(), Some("r-1"));
        assert_eq!(message.event_source.as_deref(), Some("aws:sqs"));
        assert_eq!(message.attributes["ApproximateReceiveCount"], "2");
        assert_eq!(message.attributes["SentTimestamp"], "1545082649183");
    }

    #[test]
    fn queue_arn_comes_from_the_url() {
        assert_eq!(
            queue_arn("http://localhost:5000/123456789012/intents", "eu-west-1"),
            "arn:aws:sqs:eu-west-1:123456789012:intents"
        );
        assert_eq!(
            queue_arn("http://localhost:5000/intents/", "us-east-1"),
            "arn:aws:sqs:us-east-1:000000000000:intents"
        );
    }
}
