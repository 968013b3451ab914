//! The connection record: one row per open WebSocket connection.
//!
//! Rows are projections of connection events (connected, authenticated, refreshed, gone).
//! DynamoDB deletes expired rows up to days late, so liveness is always judged from `ttl`
//! against the clock, never from a row's mere presence.

use serde::{Deserialize, Serialize};

/// DynamoDB attribute names, defined once.
pub mod attr {
    /// Partition key: the API Gateway connection id.
    pub const CONNECTION_ID: &str = "connectionId";
    /// Set once a token has been verified on this connection.
    pub const AUTHENTICATED: &str = "authenticated";
    /// `sub` of the verified token; absent until authenticated (keeps the GSI sparse).
    pub const USER_ID: &str = "userId";
    /// Tenant granted by the verified token; absent when none (keeps the GSI sparse).
    pub const TENANT_ID: &str = "tenantId";
    /// `email` claim of the verified token.
    pub const EMAIL: &str = "email";
    /// Epoch milliseconds at which API Gateway accepted the connection.
    pub const CONNECTED_AT: &str = "connectedAt";
    /// Epoch seconds after which the row is dead, whether or not DynamoDB removed it yet.
    pub const TTL: &str = "ttl";
    /// Epoch seconds at which the verified token expires.
    pub const TOKEN_EXPIRES_AT: &str = "tokenExpiresAt";
}

/// Global secondary index over [`attr::USER_ID`].
pub const USER_INDEX: &str = "userId-index";
/// Global secondary index over [`attr::TENANT_ID`].
pub const TENANT_INDEX: &str = "tenantId-index";

/// One WebSocket connection as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// API Gateway's connection id.
    pub connection_id: String,
    /// Whether a token was verified on this connection.
    pub authenticated: bool,
    /// The verified `sub`; `None` until authenticated.
    pub user_id: Option<String>,
    /// The tenant granted by the verified token, if any.
    pub tenant_id: Option<String>,
    /// The verified `email` claim, if any.
    pub email: Option<String>,
    /// Epoch milliseconds at which the connection was accepted.
    pub connected_at: i64,
    /// Epoch seconds after which the row is dead.
    pub ttl: i64,
    /// Epoch seconds at which the verified token expires.
    pub token_expires_at: Option<i64>,
}

/// What a verified token says about the client, recorded on authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The token's `sub`.
    pub user_id: String,
    /// The tenant the token grants and the client chose, if any.
    pub tenant_id: Option<String>,
    /// The token's `email`, if any.
    pub email: Option<String>,
    /// The token's `exp`, epoch seconds.
    pub token_expires_at: i64,
}

impl Connection {
    /// A freshly accepted, unauthenticated connection that dies at `deadline_secs` unless
    /// it authenticates first.
    pub fn pending(
        connection_id: impl Into<String>,
        connected_at: i64,
        deadline_secs: i64,
    ) -> Self {
        Self {
            connection_id: connection_id.into(),
            authenticated: false,
            user_id: None,
            tenant_id: None,
            email: None,
            connected_at,
            ttl: deadline_secs,
            token_expires_at: None,
        }
    }

    /// This connection after authenticating as `identity`, alive until `ttl`.
    pub fn authenticated_as(mut self, identity: &Identity, ttl: i64) -> Self {
        self.authenticated = true;
        self.user_id = Some(identity.user_id.clone());
        self.tenant_id.clone_from(&identity.tenant_id);
        self.email.clone_from(&identity.email);
        self.token_expires_at = Some(identity.token_expires_at);
        self.ttl = ttl;
        self
    }

    /// Whether the row is alive at `now_secs`. A row is dead from its `ttl` second on.
    pub fn is_alive(&self, now_secs: i64) -> bool {
        self.ttl > now_secs
    }

    /// Whether the verified token has expired at `now_secs`.
    pub fn token_expired(&self, now_secs: i64) -> bool {
        self.token_expires_at.is_some_and(|exp| exp <= now_secs)
    }

    /// Whether audience lookups (user, tenant, everyone) may deliver to this connection.
    pub fn is_deliverable(&self, now_secs: i64) -> bool {
        self.authenticated && self.is_alive(now_secs) && !self.token_expired(now_secs)
    }

    /// Whether activity at `now_secs` should push the expiry out to `now + idle_secs`.
    ///
    /// Refreshing only once half the idle window has passed keeps chatty clients from
    /// costing a write per message while never letting an active connection expire.
    pub fn refresh_due(&self, now_secs: i64, idle_secs: i64) -> bool {
        self.ttl - now_secs < idle_secs / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            user_id: "u1".into(),
            tenant_id: Some("acme".into()),
            email: None,
            token_expires_at: 2_000,
        }
    }

    #[test]
    fn pending_connection_is_not_deliverable() {
        let c = Connection::pending("c1", 0, 1_000);
        assert!(c.is_alive(999));
        assert!(!c.is_deliverable(999));
    }

    #[test]
    fn row_dies_at_its_ttl_second() {
        let c = Connection::pending("c1", 0, 1_000).authenticated_as(&identity(), 1_500);
        assert!(c.is_deliverable(1_499));
        assert!(!c.is_deliverable(1_500));
    }

    #[test]
    fn expired_token_is_not_deliverable_while_row_lives() {
        let c = Connection::pending("c1", 0, 1_000).authenticated_as(&identity(), 5_000);
        assert!(c.is_deliverable(1_999));
        assert!(c.token_expired(2_000));
        assert!(!c.is_deliverable(2_000));
    }

    #[test]
    fn refresh_is_due_after_half_the_idle_window() {
        let c = Connection::pending("c1", 0, 0).authenticated_as(&identity(), 1_600);
        assert!(
            !c.refresh_due(1_000, 600),
            "300 s of 600 left is not yet due"
        );
        assert!(c.refresh_due(1_301, 600), "299 s of 600 left is due");
    }
}
