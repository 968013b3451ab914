//! The message intent: what a handler or backend asks the fanout worker to deliver.
//!
//! An intent travels as the body of one SQS message:
//!
//! ```json
//! {"to":"tenant:acme","data":{"text":"hi"},"exclude":["L0SM9cOFvHcCIhw="],"id":"m-1"}
//! ```
//!
//! `data` is delivered verbatim: its JSON text, as written by the publisher, is the frame.
//! The worker's own bookkeeping (continuation cursors, retry lists, attempts) lives under
//! [`PROGRESS_FIELD`], which publishers never write.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::limits::{MAX_MESSAGE_BYTES, MAX_QUEUE_MESSAGE_BYTES};
use crate::store::Cursor;

/// The intent schema version this build reads and writes.
pub const VERSION: u32 = 1;

/// The field holding the worker's internal [`Progress`].
pub const PROGRESS_FIELD: &str = "_switchboard";

/// Who an intent is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `connection:<id>`: one connection, authenticated or not.
    Connection(String),
    /// `user:<id>`: every live connection of a user, optionally within one tenant.
    User(String),
    /// `tenant:<id>`: every live connection of a tenant.
    Tenant(String),
    /// `all`: every live authenticated connection.
    All,
}

/// A message intent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// Schema version; absent means 1.
    #[serde(default = "version")]
    pub v: u32,
    /// Who receives the frame.
    pub to: Target,
    /// The frame, verbatim JSON. Absent only on internal close intents.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub data: Option<Box<RawValue>>,
    /// With a `user:` target, limits delivery to that user's connections in this tenant.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant: Option<String>,
    /// Connection ids never to deliver to (a sender's own connection, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// The publisher's message id, for tracing and de-duplication.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// Worker bookkeeping; publishers leave it out.
    #[serde(
        rename = "_switchboard",
        default,
        skip_serializing_if = "Progress::is_fresh"
    )]
    pub progress: Progress,
}

/// How far the worker got with an intent, carried on the intents it enqueues for the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Progress {
    /// Close the target connection if it is still unauthenticated (the auth deadline).
    #[serde(default, skip_serializing_if = "is_false")]
    pub close_unauthenticated: bool,
    /// For `all`: the scan segment this intent covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    /// Where to resume the audience lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
    /// An explicit list of connections to retry, replacing the audience lookup.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<String>,
    /// How many times delivery to `connections` has been attempted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: u32,
}

/// Segment `index` of a parallel scan in `total` segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Zero-based segment number.
    pub index: u32,
    /// How many segments the scan has.
    pub total: u32,
}

/// Why a body is not an acceptable intent.
#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    /// The body is not JSON at all. (serde's message is displayed, not chained as a source,
    /// so that logs of the error chain say it once.)
    #[error("intent is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    /// The body is JSON of another shape.
    #[error("intent has the wrong shape: {0}")]
    Malformed(serde_json::Error),
    /// `v` names a version this build does not read.
    #[error("intent version {0} is not supported (this build reads version {VERSION})")]
    UnsupportedVersion(u32),
    /// A delivery intent without `data`.
    #[error("intent has no \"data\" to deliver")]
    MissingData,
    /// `tenant` was given with a target other than `user:`.
    #[error("\"tenant\" only applies to a user: target")]
    TenantWithoutUser,
    /// `tenant`, `id`, or an `exclude` entry, is an empty string.
    #[error("\"{0}\" must not be an empty string")]
    Empty(&'static str),
    /// A scan segment outside its scan (`index` must be below `total`).
    #[error("segment {index} of {total} does not exist")]
    BadSegment {
        /// The segment's index.
        index: u32,
        /// The scan's segment count.
        total: u32,
    },
    /// The frame would exceed API Gateway's message limit.
    #[error("frame is {bytes} bytes; API Gateway delivers at most {MAX_MESSAGE_BYTES}")]
    FrameTooLarge {
        /// The frame's size in bytes.
        bytes: usize,
    },
    /// The serialised intent would exceed SQS's message limit.
    #[error("intent is {bytes} bytes; SQS accepts at most {MAX_QUEUE_MESSAGE_BYTES}")]
    BodyTooLarge {
        /// The body's size in bytes.
        bytes: usize,
    },
}

impl Intent {
    /// An intent delivering `data` to `to`.
    pub fn new(to: Target, data: Box<RawValue>) -> Self {
        Self {
            v: VERSION,
            to,
            data: Some(data),
            tenant: None,
            exclude: Vec::new(),
            id: None,
            progress: Progress::default(),
        }
    }

    /// An intent delivering a serialisable value, such as a protocol reply.
    pub fn json<T: Serialize>(to: Target, data: &T) -> Result<Self, serde_json::Error> {
        Ok(Self::new(to, serde_json::value::to_raw_value(data)?))
    }

    /// The auth-deadline check: closes `connection_id` if it has not authenticated by then.
    pub fn close_if_unauthenticated(connection_id: impl Into<String>) -> Self {
        Self {
            v: VERSION,
            to: Target::Connection(connection_id.into()),
            data: None,
            tenant: None,
            exclude: Vec::new(),
            id: None,
            progress: Progress {
                close_unauthenticated: true,
                ..Progress::default()
            },
        }
    }

    /// Limits a `user:` intent to the user's connections in `tenant`.
    #[must_use]
    pub fn in_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Leaves these connections out of the delivery.
    #[must_use]
    pub fn excluding(mut self, connection_ids: impl IntoIterator<Item = String>) -> Self {
        self.exclude.extend(connection_ids);
        self
    }

    /// Sets the publisher's message id, for tracing and de-duplication.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Parses and validates a queue message body.
    pub fn parse(body: &str) -> Result<Self, IntentError> {
        let intent: Intent = serde_json::from_str(body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => IntentError::Malformed(e),
            _ => IntentError::NotJson(e),
        })?;
        intent.validate()?;
        Ok(intent)
    }

    /// Checks what serde cannot: version, data presence, target fit and frame size.
    pub fn validate(&self) -> Result<(), IntentError> {
        if self.v != VERSION {
            return Err(IntentError::UnsupportedVersion(self.v));
        }
        if self.tenant.is_some() && !matches!(self.to, Target::User(_)) {
            return Err(IntentError::TenantWithoutUser);
        }
        if self.tenant.as_deref() == Some("") {
            return Err(IntentError::Empty("tenant"));
        }
        if self.id.as_deref() == Some("") {
            return Err(IntentError::Empty("id"));
        }
        if self.exclude.iter().any(String::is_empty) {
            return Err(IntentError::Empty("exclude"));
        }
        if let Some(Segment { index, total }) = self.progress.segment
            && index >= total
        {
            return Err(IntentError::BadSegment { index, total });
        }
        match &self.data {
            None if self.progress.close_unauthenticated => Ok(()),
            None => Err(IntentError::MissingData),
            Some(data) if data.get().len() > MAX_MESSAGE_BYTES => Err(IntentError::FrameTooLarge {
                bytes: data.get().len(),
            }),
            Some(_) => Ok(()),
        }
    }

    /// The frame a connection receives: `data`'s JSON text, byte for byte.
    pub fn frame(&self) -> Option<&str> {
        self.data.as_deref().map(RawValue::get)
    }

    /// The queue message body, checked against SQS's size limit.
    pub fn to_body(&self) -> Result<String, IntentError> {
        // Serialising cannot fail: keys are strings and `data` is already valid JSON.
        let body = serde_json::to_string(self).expect("intent serialises");
        if body.len() > MAX_QUEUE_MESSAGE_BYTES {
            return Err(IntentError::BodyTooLarge { bytes: body.len() });
        }
        Ok(body)
    }

    /// A label for logs: the publisher's id if any, else the target.
    pub fn label(&self) -> String {
        self.id.clone().unwrap_or_else(|| self.to.to_string())
    }
}

impl Progress {
    fn is_fresh(&self) -> bool {
        self == &Progress::default()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Connection(id) => write!(f, "connection:{id}"),
            Target::User(id) => write!(f, "user:{id}"),
            Target::Tenant(id) => write!(f, "tenant:{id}"),
            Target::All => f.write_str("all"),
        }
    }
}

/// Why a `to` string is not a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid target {0:?}: expected \"connection:<id>\", \"user:<id>\", \"tenant:<id>\" or \"all\""
)]
pub struct TargetError(pub String);

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "all" {
            return Ok(Target::All);
        }
        let bad = || TargetError(s.to_owned());
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        if id.is_empty() {
            return Err(bad());
        }
        match kind {
            "connection" => Ok(Target::Connection(id.to_owned())),
            "user" => Ok(Target::User(id.to_owned())),
            "tenant" => Ok(Target::Tenant(id.to_owned())),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(D::Error::custom)
    }
}

fn version() -> u32 {
    VERSION
}

/// A field that, when present, must hold a `T`: `null` is refused, as the schema does,
/// rather than read as absent. For `data`, `null` is a frame too (the text `null`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> IntentError {
        Intent::parse(body).unwrap_err()
    }

    #[test]
    fn segment_outside_its_scan_is_refused() {
        for (index, total) in [(0, 0), (4, 4), (9, 2)] {
            let segment = format!(r#"{{"index":{index},"total":{total}}}"#);
            let body = format!(r#"{{"to":"all","data":1,"_switchboard":{{"segment":{segment}}}}}"#);
            assert!(
                matches!(err(&body), IntentError::BadSegment { index: i, total: t }
                    if i == index && t == total),
                "{body}"
            );
        }
        let last = r#"{"to":"all","data":1,"_switchboard":{"segment":{"index":3,"total":4}}}"#;
        assert!(Intent::parse(last).is_ok());
    }

    #[test]
    fn empty_tenant_and_exclude_entries_are_refused() {
        let tenant = err(r#"{"to":"user:u1","data":1,"tenant":""}"#);
        assert!(matches!(tenant, IntentError::Empty("tenant")), "{tenant}");
        let exclude = err(r#"{"to":"all","data":1,"exclude":["a",""]}"#);
        assert!(
            matches!(exclude, IntentError::Empty("exclude")),
            "{exclude}"
        );
        let null_id = err(r#"{"to":"all","data":1,"id":null}"#);
        assert!(matches!(null_id, IntentError::Malformed(_)), "{null_id}");
    }

    #[test]
    fn parses_every_target_kind() {
        for (to, target) in [
            (
                "connection:L0SM9cOFvHcCIhw=",
                Target::Connection("L0SM9cOFvHcCIhw=".into()),
            ),
            ("user:u1", Target::User("u1".into())),
            ("tenant:acme", Target::Tenant("acme".into())),
            ("all", Target::All),
        ] {
            let intent = Intent::parse(&format!(r#"{{"to":"{to}","data":1}}"#)).unwrap();
            assert_eq!(intent.to, target);
            assert_eq!(intent.to.to_string(), to);
        }
    }

    #[test]
    fn data_is_kept_verbatim() {
        let intent = Intent::parse(r#"{"to":"all","data": {"b" : 2, "a":"é"} }"#).unwrap();
        assert_eq!(intent.frame(), Some(r#"{"b" : 2, "a":"é"}"#));
        let intent = Intent::parse(r#"{"to":"all","data":null}"#).unwrap();
        assert_eq!(intent.frame(), Some("null"));
    }

    #[test]
    fn round_trips_with_progress() {
        let mut intent =
            Intent::parse(r#"{"to":"user:u1","tenant":"t","data":[1],"id":"m"}"#).unwrap();
        intent.progress.connections = vec!["a".into(), "b".into()];
        intent.progress.attempt = 2;
        let body = intent.to_body().unwrap();
        assert_eq!(
            body,
            concat!(
                r#"{"v":1,"to":"user:u1","data":[1],"tenant":"t","id":"m","#,
                r#""_switchboard":{"connections":["a","b"],"attempt":2}}"#
            )
        );
        let again = Intent::parse(&body).unwrap();
        assert_eq!(again.progress, intent.progress);
    }

    #[test]
    fn close_intent_needs_no_data() {
        let body = Intent::close_if_unauthenticated("c1").to_body().unwrap();
        assert_eq!(
            body,
            r#"{"v":1,"to":"connection:c1","_switchboard":{"closeUnauthenticated":true}}"#
        );
        assert!(Intent::parse(&body).unwrap().progress.close_unauthenticated);
    }

    #[test]
    fn rejects_bad_intents_with_typed_errors() {
        assert!(matches!(err("not json"), IntentError::NotJson(_)));
        assert!(matches!(
            err(r#"{"to":"all","data":1"#),
            IntentError::NotJson(_)
        ));
        assert!(matches!(
            err(r#"{"Type":"Notification"}"#),
            IntentError::Malformed(_)
        ));
        assert!(matches!(
            err(r#"{"to":"room:1","data":1}"#),
            IntentError::Malformed(_)
        ));
        assert!(matches!(
            err(r#"{"to":"user:","data":1}"#),
            IntentError::Malformed(_)
        ));
        assert!(matches!(
            err(r#"{"to":7,"data":1}"#),
            IntentError::Malformed(_)
        ));
        assert!(matches!(
            err(r#"{"to":"all","data":1,"extra":1}"#),
            IntentError::Malformed(_)
        ));
        assert!(matches!(err(r#"{"to":"all"}"#), IntentError::MissingData));
        assert!(matches!(
            err(r#"{"v":2,"to":"all","data":1}"#),
            IntentError::UnsupportedVersion(2)
        ));
        let tenant_on_all = r#"{"to":"all","tenant":"t","data":1}"#;
        assert!(matches!(err(tenant_on_all), IntentError::TenantWithoutUser));
    }

    #[test]
    fn frame_limit_counts_bytes_not_characters() {
        // "é" is two bytes in UTF-8; the quotes add two more.
        let fits = format!(
            r#"{{"to":"all","data":"{}"}}"#,
            "é".repeat((MAX_MESSAGE_BYTES - 2) / 2)
        );
        assert_eq!(
            Intent::parse(&fits).unwrap().frame().unwrap().len(),
            MAX_MESSAGE_BYTES
        );
        let over = format!(
            r#"{{"to":"all","data":"{}x"}}"#,
            "é".repeat((MAX_MESSAGE_BYTES - 2) / 2)
        );
        let bytes = MAX_MESSAGE_BYTES + 1;
        assert!(matches!(
            Intent::parse(&over).unwrap_err(),
            IntentError::FrameTooLarge { bytes: b } if b == bytes
        ));
    }
}
