//! The client protocol: JSON text frames, routed by their `action`.
//!
//! Parsing is staged so that every failure maps to the right error code and still echoes
//! the request's `id`: first the frame must be a JSON object (`invalid_json`,
//! `bad_request`), then its `action` must be known (`unknown_action`), then its fields
//! must have the right shape (`bad_request`).
//!
//! A client's `data` and `id` are kept as the JSON text it sent ([`RawJson`]) and relayed
//! byte for byte, as backend data is: re-encoding would reorder keys and round numbers
//! beyond 2^53.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// A client request after parsing, with its optional correlation `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The client's correlation id, echoed verbatim in the reply.
    pub id: Option<RawJson>,
    /// What the client asked for.
    pub request: Request,
}

/// A JSON value exactly as it was written: key order, number spelling and escapes kept.
/// Equality compares the text.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

/// What a client may ask for. Names match exactly: `AUTH` is an unknown action.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Present a JWT; optionally pick one of the tenants it grants.
    Auth {
        /// The compact JWT.
        token: String,
        /// The tenant the client wants (`tenantId`), which the token must grant.
        tenant_id: Option<String>,
    },
    /// Liveness check; answered with [`Reply::Pong`] and refreshes the connection.
    Ping,
    /// Send `data` to the sender's tenant, or to everyone when the sender has none.
    Broadcast {
        /// Any JSON; delivered inside a [`Reply::Message`].
        data: RawJson,
        /// Leave the sending connection out (`"excludeSelf": true`); by default the sender
        /// receives its own broadcast, as every member of the audience does.
        exclude_self: bool,
    },
    /// Send `data` to every connection of user `to`.
    Send {
        /// The recipient's user id.
        to: String,
        /// Any JSON; delivered inside a [`Reply::Message`].
        data: RawJson,
    },
}

/// The members every frame is read for first, borrowed from the frame.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    action: Option<&'a RawValue>,
    /// `null` is an id too, and is echoed.
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct AuthFields {
    token: String,
    #[serde(default, rename = "tenantId")]
    tenant_id: Option<String>,
}

#[derive(Deserialize)]
struct BroadcastFields {
    data: RawJson,
    #[serde(default, rename = "excludeSelf")]
    exclude_self: bool,
}

#[derive(Deserialize)]
struct SendFields {
    to: String,
    data: RawJson,
}

/// Actions a client may use, for matching before the fields are read.
pub const ACTIONS: [&str; 4] = ["auth", "ping", "broadcast", "send"];

/// Error codes sent to clients in `error` frames and failed `auth` replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not JSON.
    InvalidJson,
    /// The frame's `action` is not one we know.
    UnknownAction,
    /// The frame is JSON but not a request of the right shape.
    BadRequest,
    /// The action needs an authenticated connection.
    Unauthenticated,
    /// The token failed verification.
    InvalidToken,
    /// The token, or the connection's token, has expired.
    TokenExpired,
    /// The token is valid but does not grant what was asked.
    Forbidden,
    /// The resulting frame would exceed API Gateway's message limit.
    PayloadTooLarge,
    /// Too many requests.
    RateLimited,
    /// Something failed on our side; the log has the cause.
    Internal,
}

/// A frame sent to a client by Switchboard itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Reply {
    /// The outcome of an `auth` request.
    Auth(AuthOutcome),
    /// The answer to `ping`.
    Pong {
        /// ISO-8601 UTC with milliseconds, e.g. `2026-12-03T10:00:00.000Z`.
        timestamp: String,
        /// The request's `id`, echoed.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RawJson>,
    },
    /// A client-originated message; `from` is stamped by the server so it cannot be forged.
    Message {
        /// Sender's user id.
        from: String,
        /// The sender's data, as the sender wrote it.
        data: RawJson,
    },
    /// A request failed.
    Error {
        /// What went wrong, as a stable code.
        error: ErrorCode,
        /// A human-readable explanation.
        message: String,
        /// The request's `id`, echoed.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RawJson>,
    },
}

/// The body of an `auth` reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AuthOutcome {
    /// The token was accepted.
    Success {
        /// Always `true`.
        success: bool,
        /// The verified `sub`.
        #[serde(rename = "userId")]
        user_id: String,
        /// The tenant in effect, if any.
        #[serde(rename = "tenantId", skip_serializing_if = "Option::is_none")]
        tenant_id: Option<String>,
        /// The request's `id`, echoed.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RawJson>,
    },
    /// The token was refused; the connection stays unauthenticated.
    Failure {
        /// Always `false`.
        success: bool,
        /// Why, as a stable code.
        error: ErrorCode,
        /// A human-readable explanation.
        message: String,
        /// The request's `id`, echoed.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RawJson>,
    },
}

/// A frame that could not be parsed into a [`Request`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct RequestError {
    /// The code the client receives.
    pub code: ErrorCode,
    /// The explanation the client receives.
    pub message: String,
    /// The request's `id`, when the frame had one.
    pub id: Option<RawJson>,
}

impl Envelope {
    /// Parses a client frame. Never panics, whatever the input.
    pub fn parse(body: &str) -> Result<Self, RequestError> {
        let whole: &RawValue = serde_json::from_str(body).map_err(|e| RequestError {
            code: ErrorCode::InvalidJson,
            message: format!("frame is not valid JSON: {e}"),
            id: None,
        })?;
        let not_an_object = || RequestError {
            code: ErrorCode::BadRequest,
            message: "frame must be a JSON object with an \"action\"".into(),
            id: None,
        };
        if !whole.get().starts_with('{') {
            return Err(not_an_object());
        }
        let head: Head<'_> = serde_json::from_str(body).map_err(|e| RequestError {
            message: e.to_string(),
            ..not_an_object()
        })?;

        let id = head.id.map(RawJson::from);
        let fail = |code, message: String| RequestError {
            code,
            message,
            id: id.clone(),
        };
        let action: String = match head.action {
            None => return Err(fail(ErrorCode::BadRequest, "missing \"action\"".into())),
            Some(raw) => serde_json::from_str(raw.get())
                .map_err(|_| fail(ErrorCode::BadRequest, "\"action\" must be a string".into()))?,
        };
        let fields = |e: serde_json::Error| fail(ErrorCode::BadRequest, e.to_string());
        let request = match action.as_str() {
            "auth" => {
                let f: AuthFields = serde_json::from_str(body).map_err(fields)?;
                Request::Auth {
                    token: f.token,
                    tenant_id: f.tenant_id,
                }
            }
            "ping" => Request::Ping,
            "broadcast" => {
                let f: BroadcastFields = serde_json::from_str(body).map_err(fields)?;
                Request::Broadcast {
                    data: f.data,
                    exclude_self: f.exclude_self,
                }
            }
            "send" => {
                let f: SendFields = serde_json::from_str(body).map_err(fields)?;
                Request::Send {
                    to: f.to,
                    data: f.data,
                }
            }
            other => {
                let known = ACTIONS.join(", ");
                let message = format!("unknown action {other:?}; expected one of {known}");
                return Err(fail(ErrorCode::UnknownAction, message));
            }
        };
        Ok(Self { id, request })
    }
}

impl RawJson {
    /// The JSON text of `value`.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Self)
    }

    /// The JSON text, exactly as written.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl From<&RawValue> for RawJson {
    fn from(raw: &RawValue) -> Self {
        Self(raw.to_owned())
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(Self)
    }
}

/// A member that, when present, holds a `T`, `null` included.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl Reply {
    /// An `error` frame echoing `id`.
    pub fn error(error: ErrorCode, message: impl Into<String>, id: Option<RawJson>) -> Self {
        Self::Error {
            error,
            message: message.into(),
            id,
        }
    }

    /// The frame's JSON text, exactly as the client receives it.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every key is a string and no map is fallible.
        serde_json::to_string(self).expect("reply serialises")
    }
}

impl From<RequestError> for Reply {
    fn from(e: RequestError) -> Self {
        Reply::error(e.code, e.message, e.id)
    }
}

impl AuthOutcome {
    /// A successful outcome.
    pub fn success(user_id: String, tenant_id: Option<String>, id: Option<RawJson>) -> Self {
        Self::Success {
            success: true,
            user_id,
            tenant_id,
            id,
        }
    }

    /// A refused outcome.
    pub fn failure(error: ErrorCode, message: impl Into<String>, id: Option<RawJson>) -> Self {
        Self::Failure {
            success: false,
            error,
            message: message.into(),
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> ErrorCode {
        Envelope::parse(body).unwrap_err().code
    }

    fn raw(text: &str) -> RawJson {
        RawJson(RawValue::from_string(text.to_owned()).unwrap())
    }

    #[test]
    fn parses_each_action() {
        let auth = Envelope::parse(r#"{"action":"auth","token":"t","tenantId":"acme","id":7}"#);
        assert_eq!(
            auth.unwrap(),
            Envelope {
                id: Some(raw("7")),
                request: Request::Auth {
                    token: "t".into(),
                    tenant_id: Some("acme".into())
                },
            }
        );
        assert_eq!(
            Envelope::parse(r#"{"action":"ping"}"#).unwrap().request,
            Request::Ping
        );
        let send = Envelope::parse(r#"{"action":"send","to":"u2","data":[1,{"a":null}]}"#);
        let expected = Request::Send {
            to: "u2".into(),
            data: raw(r#"[1,{"a":null}]"#),
        };
        assert_eq!(send.unwrap().request, expected);
        let broadcast =
            Envelope::parse("{\r\n  \"action\" : \"broadcast\",\r\n \"data\":\"hi\"}\r\n");
        assert_eq!(
            broadcast.unwrap().request,
            Request::Broadcast {
                data: raw(r#""hi""#),
                exclude_self: false,
            }
        );
    }

    #[test]
    fn maps_malformed_frames_to_codes() {
        assert_eq!(code("hello"), ErrorCode::InvalidJson);
        assert_eq!(code(r#"{"action":"ping""#), ErrorCode::InvalidJson);
        assert_eq!(code(""), ErrorCode::InvalidJson);
        assert_eq!(code("[1,2]"), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"token":"t"}"#), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"action":5}"#), ErrorCode::BadRequest);
        assert_eq!(
            code(r#"{"action":"AUTH","token":"t"}"#),
            ErrorCode::UnknownAction
        );
        assert_eq!(code(r#"{"action":"auth"}"#), ErrorCode::BadRequest);
        assert_eq!(
            code(r#"{"action":"auth","token":3}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(code(r#"{"action":"send","data":1}"#), ErrorCode::BadRequest);
    }

    #[test]
    fn errors_echo_the_request_id() {
        let e = Envelope::parse(r#"{"action":"nope","id":"r1"}"#).unwrap_err();
        assert_eq!(e.id, Some(raw(r#""r1""#)));
        let e = Envelope::parse(r#"{"action":"send","id":{"n":1}}"#).unwrap_err();
        assert_eq!(e.id, Some(raw(r#"{"n":1}"#)));
        let e = Envelope::parse(r#"{"action":"send","id":null}"#).unwrap_err();
        assert_eq!(e.id, Some(raw("null")), "null is an id too");
    }

    #[test]
    fn data_and_ids_are_kept_as_written() {
        let body = r#"{"action":"broadcast","id":12345678901234567890123456789,
                       "data":{"b":2,"a":"\u00e9","n":1.0e2}}"#;
        let envelope = Envelope::parse(body).unwrap();
        assert_eq!(envelope.id, Some(raw("12345678901234567890123456789")));
        let Request::Broadcast { data, .. } = envelope.request else {
            panic!("parsed as broadcast");
        };
        assert_eq!(data.get(), r#"{"b":2,"a":"\u00e9","n":1.0e2}"#);
        let relayed = Reply::Message {
            from: "u1".into(),
            data,
        };
        assert_eq!(
            relayed.to_json(),
            r#"{"action":"message","from":"u1","data":{"b":2,"a":"\u00e9","n":1.0e2}}"#
        );
    }

    #[test]
    fn frames_of_other_shapes_are_bad_requests_even_when_they_look_like_requests() {
        assert_eq!(code(r#"["auth","t"]"#), ErrorCode::BadRequest);
        assert_eq!(code(r#"  "auth" "#), ErrorCode::BadRequest);
        assert_eq!(
            code(r#"{"action":"ping","action":"auth"}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code(r#"{"action":"broadcast","data":1,"excludeSelf":"yes"}"#),
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn replies_have_the_documented_wire_shape() {
        let ok = Reply::Auth(AuthOutcome::success("u1".into(), Some("acme".into()), None));
        let wire = r#"{"action":"auth","success":true,"userId":"u1","tenantId":"acme"}"#;
        assert_eq!(ok.to_json(), wire);

        let no = Reply::Auth(AuthOutcome::failure(
            ErrorCode::InvalidToken,
            "bad",
            Some(raw("1")),
        ));
        let wire =
            r#"{"action":"auth","success":false,"error":"invalid_token","message":"bad","id":1}"#;
        assert_eq!(no.to_json(), wire);

        let pong = Reply::Pong {
            timestamp: "2026-12-03T10:00:00.000Z".into(),
            id: None,
        };
        assert_eq!(
            pong.to_json(),
            r#"{"action":"pong","timestamp":"2026-12-03T10:00:00.000Z"}"#
        );

        let msg = Reply::Message {
            from: "u1".into(),
            data: raw(r#"{"t":1}"#),
        };
        assert_eq!(
            msg.to_json(),
            r#"{"action":"message","from":"u1","data":{"t":1}}"#
        );

        let err = Reply::error(ErrorCode::PayloadTooLarge, "too big", None);
        let wire = r#"{"action":"error","error":"payload_too_large","message":"too big"}"#;
        assert_eq!(err.to_json(), wire);
    }
}
