//! `$default` (and any custom route): one client frame, answered with intents.
//!
//! Every request gets at most one frame back, echoing its `id`, through an intent to
//! `connection:<id>`; `broadcast` and `send` produce their delivery intent instead and are
//! answered only when they fail. The handler returns 200 whatever the client sent, so a
//! mistake never closes the connection.

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use switchboard::connection::Connection;
use switchboard::intent::{Intent, Target};
use switchboard::limits::MAX_MESSAGE_BYTES;
use switchboard::metrics::Metric;
use switchboard::protocol::{AuthOutcome, Envelope, ErrorCode, RawJson, Reply, Request};
use switchboard::queue::Outgoing;
use switchboard::store::StoreError;

use crate::event::WsEvent;
use crate::{Handlers, chain, response};

/// Who a client-originated message goes to.
struct Recipients {
    target: Target,
    /// Limits a user target to this tenant.
    tenant: Option<String>,
    /// A connection left out.
    exclude: Option<String>,
}

/// The explanation sent with `internal`; the cause is in our log only.
const INTERNAL: &str = "something went wrong on our side; try again";

impl Handlers {
    /// Answers one client frame. Always 200: the answer, if any, is an intent.
    pub(crate) async fn message(&self, event: &WsEvent) -> ApiGatewayProxyResponse {
        if let Some(reply) = self.answer(event).await {
            self.reply(&event.connection_id, &reply).await;
        }
        response::ok()
    }

    /// Decides the reply to a frame, having enqueued whatever it asked for.
    async fn answer(&self, event: &WsEvent) -> Option<Reply> {
        let connection_id = event.connection_id.as_str();
        if event.is_base64_encoded {
            self.activity(connection_id).await;
            let message = "binary frames are not supported; send JSON text";
            return Some(Reply::error(ErrorCode::BadRequest, message, None));
        }
        let body = event.body.as_deref().unwrap_or_default();
        tracing::trace!(body, "frame");
        let Envelope { id, request } = match Envelope::parse(body) {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::debug!(code = ?e.code, "frame refused");
                self.activity(connection_id).await;
                return Some(e.into());
            }
        };
        match request {
            Request::Auth { token, tenant_id } => Some(
                self.auth(connection_id, &token, tenant_id.as_deref(), id)
                    .await,
            ),
            Request::Ping => Some(self.ping(connection_id, id).await),
            Request::Broadcast { data, exclude_self } => {
                self.broadcast(connection_id, data, exclude_self, id).await
            }
            Request::Send { to, data } => self.send(connection_id, to, data, id).await,
        }
    }

    /// Verifies a token and marks the connection authenticated, or refreshes it.
    async fn auth(
        &self,
        connection_id: &str,
        token: &str,
        tenant: Option<&str>,
        id: Option<RawJson>,
    ) -> Reply {
        let now = self.clock.now_secs();
        tracing::trace!(token, "auth token");
        let identity = match self.verifier.verify(token, tenant, now).await {
            Ok(identity) => identity,
            Err(e) => {
                if e.code() == ErrorCode::Internal {
                    tracing::error!(error = %chain(&e), "token could not be checked");
                } else {
                    tracing::info!(error = %chain(&e), "token refused");
                }
                return self.auth_failed(e.code(), e.client_message(), id);
            }
        };
        record_identity(&identity.user_id, identity.tenant_id.as_deref());

        let current = match self.store.get(connection_id).await {
            Ok(Some(row)) => row,
            Ok(None) => return self.auth_failed(ErrorCode::Unauthenticated, GONE, id),
            Err(e) => {
                tracing::error!(error = %chain(&e), "reading the connection failed");
                return self.auth_failed(ErrorCode::Internal, INTERNAL, id);
            }
        };
        // The row is read for what it was (a first `auth` or a refresh); whether this token may
        // take it is decided by the store's conditional write, which no concurrent `auth` races.
        let ttl = self.expiry();
        match self.store.authenticate(connection_id, &identity, ttl).await {
            Ok(_) => {}
            Err(StoreError::NotFound(_)) => {
                return self.auth_failed(ErrorCode::Unauthenticated, GONE, id);
            }
            Err(StoreError::OtherUser(_)) => {
                tracing::info!(
                    current_user = current.user_id.as_deref().unwrap_or_default(),
                    "token is for another user than the connection's"
                );
                let message = "this connection is authenticated as another user";
                return self.auth_failed(ErrorCode::Forbidden, message, id);
            }
            Err(e) => {
                tracing::error!(error = %chain(&e), "recording the authentication failed");
                return self.auth_failed(ErrorCode::Internal, INTERNAL, id);
            }
        }
        if current.authenticated {
            tracing::info!(expires_at = identity.token_expires_at, "token refreshed");
        } else {
            self.metrics.put(&[(Metric::ConnectionsAuthenticated, 1.0)]);
            tracing::info!(
                expires_at = identity.token_expires_at,
                "connection authenticated"
            );
        }
        Reply::Auth(AuthOutcome::success(
            identity.user_id,
            identity.tenant_id,
            id,
        ))
    }

    /// Answers `pong` and, on an authenticated connection, pushes its expiry out.
    async fn ping(&self, connection_id: &str, id: Option<RawJson>) -> Reply {
        self.activity(connection_id).await;
        Reply::Pong {
            timestamp: timestamp(self.clock.now_millis()),
            id,
        }
    }

    /// Sends `data` to the sender's tenant, or to everyone when it has none; without the
    /// sending connection when `exclude_self`.
    async fn broadcast(
        &self,
        connection_id: &str,
        data: RawJson,
        exclude_self: bool,
        id: Option<RawJson>,
    ) -> Option<Reply> {
        let (sender, user_id) = match self.sender(connection_id, &id).await {
            Ok(found) => found,
            Err(reply) => return Some(reply),
        };
        let target = sender.tenant_id.clone().map_or(Target::All, Target::Tenant);
        let recipients = Recipients {
            target,
            tenant: None,
            exclude: exclude_self.then(|| connection_id.to_owned()),
        };
        self.deliver(&sender, recipients, user_id, data, id).await
    }

    /// Sends `data` to user `to`, within the sender's tenant when it has one.
    async fn send(
        &self,
        connection_id: &str,
        to: String,
        data: RawJson,
        id: Option<RawJson>,
    ) -> Option<Reply> {
        if to.is_empty() {
            let message = "\"to\" must name a user";
            return Some(Reply::error(ErrorCode::BadRequest, message, id));
        }
        let (sender, user_id) = match self.sender(connection_id, &id).await {
            Ok(found) => found,
            Err(reply) => return Some(reply),
        };
        let recipients = Recipients {
            target: Target::User(to),
            tenant: sender.tenant_id.clone(),
            exclude: None,
        };
        self.deliver(&sender, recipients, user_id, data, id).await
    }

    /// Enqueues a client-originated message; a reply only when it cannot be delivered.
    async fn deliver(
        &self,
        sender: &Connection,
        recipients: Recipients,
        from: String,
        data: RawJson,
        id: Option<RawJson>,
    ) -> Option<Reply> {
        let mut intent = match Intent::json(recipients.target, &Reply::Message { from, data }) {
            Ok(intent) => intent,
            Err(e) => {
                tracing::error!(error = %e, "serialising the message failed");
                return Some(Reply::error(ErrorCode::Internal, INTERNAL, id));
            }
        };
        intent.tenant = recipients.tenant;
        intent.exclude.extend(recipients.exclude);
        let bytes = intent.frame().map_or(0, str::len);
        if bytes > MAX_MESSAGE_BYTES {
            tracing::debug!(bytes, "message too large");
            let message = format!(
                "the delivered message would be {bytes} bytes; the limit is {MAX_MESSAGE_BYTES}"
            );
            return Some(Reply::error(ErrorCode::PayloadTooLarge, message, id));
        }

        let now = self.clock.now_secs();
        self.touch(sender, now).await;
        match self.enqueue(&intent).await {
            Ok(()) => {
                tracing::debug!(to = %intent.to, bytes, "message enqueued");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, to = %intent.to, "enqueuing the message failed");
                Some(Reply::error(ErrorCode::Internal, INTERNAL, id))
            }
        }
    }

    /// The sending connection and its user, or the reply refusing the request.
    async fn sender(
        &self,
        connection_id: &str,
        id: &Option<RawJson>,
    ) -> Result<(Connection, String), Reply> {
        let now = self.clock.now_secs();
        let row = self.store.get(connection_id).await.map_err(|e| {
            tracing::error!(error = %chain(&e), "reading the connection failed");
            Reply::error(ErrorCode::Internal, INTERNAL, id.clone())
        })?;
        let Some((row, user_id)) = row
            .filter(|row| row.authenticated)
            .and_then(|row| row.user_id.clone().map(|user| (row, user)))
        else {
            let message = "authenticate first: send {\"action\":\"auth\",\"token\":\"...\"}";
            return Err(Reply::error(
                ErrorCode::Unauthenticated,
                message,
                id.clone(),
            ));
        };
        record_identity(&user_id, row.tenant_id.as_deref());
        if row.token_expired(now) {
            let message = "the token has expired; send a fresh one with the auth action";
            return Err(Reply::error(ErrorCode::TokenExpired, message, id.clone()));
        }
        Ok((row, user_id))
    }

    /// Pushes an authenticated connection's expiry out, when half its idle window passed.
    async fn touch(&self, row: &Connection, now: i64) {
        if !row.refresh_due(now, self.idle_secs()) {
            return;
        }
        match self.store.refresh(&row.connection_id, self.expiry()).await {
            Ok(()) => tracing::debug!("expiry refreshed"),
            Err(StoreError::NotFound(_)) => tracing::debug!("row vanished before its refresh"),
            Err(e) => tracing::error!(error = %chain(&e), "refreshing the connection failed"),
        }
    }

    /// Counts a frame that asks for no delivery (`ping`, or one refused as malformed) as
    /// activity, as API Gateway's idle timer does: otherwise a chatty client's socket would
    /// stay open while its row expired, and it would silently stop receiving. Only an
    /// authenticated connection with a valid token is extended.
    async fn activity(&self, connection_id: &str) {
        let now = self.clock.now_secs();
        match self.store.get(connection_id).await {
            Ok(Some(row)) if row.authenticated && !row.token_expired(now) => {
                record_identity(
                    row.user_id.as_deref().unwrap_or_default(),
                    row.tenant_id.as_deref(),
                );
                self.touch(&row, now).await;
            }
            Ok(_) => {}
            // Nothing the client gets depends on the row; a missed refresh is retried later.
            Err(e) => tracing::warn!(error = %chain(&e), "reading the connection failed"),
        }
    }

    /// Epoch seconds at which a connection active now expires: the idle timeout from now,
    /// rounded up, so that the row never dies before the socket's own idle timer does.
    fn expiry(&self) -> i64 {
        let idle_ms = self.idle_secs().saturating_mul(1000);
        self.clock
            .now_millis()
            .saturating_add(idle_ms)
            .saturating_add(999)
            .div_euclid(1000)
    }

    /// An `auth` failure: counted by reason, and the connection left as it was.
    fn auth_failed(&self, code: ErrorCode, message: &str, id: Option<RawJson>) -> Reply {
        self.metrics
            .put_with(Metric::AuthFailures, 1.0, ("Reason", code_name(code)));
        Reply::Auth(AuthOutcome::failure(code, message, id))
    }

    /// Enqueues `reply` for this connection. Nothing more can be done if that fails, so
    /// the failure is logged and the invocation still succeeds.
    async fn reply(&self, connection_id: &str, reply: &Reply) {
        let to = Target::Connection(connection_id.to_owned());
        let mut intent = Intent::json(to.clone(), reply);
        if intent
            .as_ref()
            .is_ok_and(|i| i.frame().map_or(0, str::len) > MAX_MESSAGE_BYTES)
        {
            // Only an echoed `id` can make a reply this large; answer without it.
            let message = "the request's id is too large to echo";
            let error = Reply::error(ErrorCode::PayloadTooLarge, message, None);
            intent = Intent::json(to, &error);
        }
        let result = match intent {
            Ok(intent) => self.enqueue(&intent).await,
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "enqueuing the reply failed");
        }
    }

    async fn enqueue(&self, intent: &Intent) -> Result<(), String> {
        let body = intent.to_body().map_err(|e| chain(&e))?;
        self.queue
            .send(Outgoing::now(body))
            .await
            .map(|_| ())
            .map_err(|e| chain(&e))
    }
}

/// Why an `auth` found no row: never registered, removed, or past its deadline.
const GONE: &str = "this connection is closed or missed its auth deadline; reconnect";

/// Puts the client's identity on the invocation's span.
fn record_identity(user_id: &str, tenant_id: Option<&str>) {
    let span = tracing::Span::current();
    span.record("user_id", user_id);
    if let Some(tenant) = tenant_id {
        span.record("tenant_id", tenant);
    }
}

/// An error code's wire name, as the `Reason` dimension of `AuthFailures`.
fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidJson => "invalid_json",
        ErrorCode::UnknownAction => "unknown_action",
        ErrorCode::BadRequest => "bad_request",
        ErrorCode::Unauthenticated => "unauthenticated",
        ErrorCode::InvalidToken => "invalid_token",
        ErrorCode::TokenExpired => "token_expired",
        ErrorCode::Forbidden => "forbidden",
        ErrorCode::PayloadTooLarge => "payload_too_large",
        ErrorCode::RateLimited => "rate_limited",
        ErrorCode::Internal => "internal",
    }
}

/// Epoch milliseconds as ISO-8601 UTC with milliseconds: `2026-12-03T10:00:00.000Z`.
fn timestamp(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_iso_8601_utc_with_millis() {
        assert_eq!(timestamp(1_796_292_000_000), "2026-12-03T10:00:00.000Z");
        assert_eq!(timestamp(1_796_292_000_007), "2026-12-03T10:00:00.007Z");
    }

    #[test]
    fn code_names_match_the_wire() {
        for code in [
            ErrorCode::InvalidJson,
            ErrorCode::UnknownAction,
            ErrorCode::BadRequest,
            ErrorCode::Unauthenticated,
            ErrorCode::InvalidToken,
            ErrorCode::TokenExpired,
            ErrorCode::Forbidden,
            ErrorCode::PayloadTooLarge,
            ErrorCode::RateLimited,
            ErrorCode::Internal,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code_name(code));
        }
    }
}
