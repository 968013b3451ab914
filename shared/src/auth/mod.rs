//! Token verification for the `auth` action.
//!
//! - [`Verifier`]: checks a compact JWT and says who the client is.
//! - `claims`: the registered claims we check ourselves, against an injected `now`.
//! - `jwks`: the cached JSON Web Key Set behind `JWKS_URL`.
//!
//! The algorithm is always pinned by the key, never read from the token: the HS256
//! secret verifies HS256 only, and each JWKS key verifies only the algorithm it declares
//! (or the one its type implies). So `alg: none`, an HS256 token signed with a public
//! key, or an RS256 token presented for an EC key are all refused before any signature
//! is checked. A configuration may hold a secret and a JWKS at once: HS256 tokens go to
//! the secret, every other algorithm to the key named by `kid`.
//!
//! `exp` and `nbf` are checked here rather than by `jsonwebtoken`, which reads the
//! system clock; callers pass `now` so tests move time without sleeping.

mod claims;
mod jwks;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

pub use jwks::JwksError;

use crate::config::{AuthConfig, SecretSource};
use crate::connection::Identity;
use crate::protocol::ErrorCode;
use jwks::{Jwks, Key};

/// How long an unknown `kid` must wait before it may trigger another JWKS fetch.
///
/// Refetching on every unknown `kid` would let any client make us hammer the identity
/// provider; a minute still picks up a rotated key well before clients notice.
pub const DEFAULT_JWKS_COOLDOWN: Duration = Duration::from_secs(60);

/// How long a fetched JWKS is trusted before it is fetched again.
///
/// This bounds how long a key the identity provider withdrew keeps verifying tokens in a
/// warm container; ten minutes costs one request per container per ten minutes.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(600);

/// Longest a JWKS fetch may take. A Lambda invocation waits on it, so it is kept short.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Verifies tokens with the keys and rules of an [`AuthConfig`].
pub struct Verifier {
    secret: Option<Arc<Key>>,
    jwks: Option<Jwks>,
    rules: claims::Rules,
    issuer: Option<String>,
    audience: Option<String>,
}

/// Why a token was refused, or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a JWT we can read: bad encoding, bad JSON, or an algorithm name such as `none`.
    #[error("token is malformed")]
    Malformed(#[source] jsonwebtoken::errors::Error),
    /// The header's algorithm is not the one the selected key verifies.
    #[error("algorithm {0} is not accepted for this key")]
    AlgorithmNotAllowed(String),
    /// No configured key matches the token (unknown `kid`, or no key of that kind).
    #[error("no key for kid {kid:?}")]
    UnknownKey {
        /// The header's `kid`, if any.
        kid: Option<String>,
    },
    /// The signature does not verify with the selected key.
    #[error("signature does not verify")]
    BadSignature,
    /// A required claim is absent.
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong type, such as `exp` given as a string.
    #[error("claim {0} has the wrong type")]
    InvalidClaim(&'static str),
    /// `exp` plus the leeway has passed.
    #[error("token expired at {exp}")]
    Expired {
        /// The token's `exp`, epoch seconds.
        exp: i64,
    },
    /// `nbf` minus the leeway is still in the future.
    #[error("token is not valid before {nbf}")]
    NotYetValid {
        /// The token's `nbf`, epoch seconds.
        nbf: i64,
    },
    /// `iss` is not the configured issuer.
    #[error("issuer does not match")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("audience does not match")]
    WrongAudience,
    /// The client asked for a tenant the token does not grant.
    #[error("tenant {0:?} is not granted by the token")]
    TenantNotGranted(String),
    /// The token grants several tenants and the client did not pick one.
    #[error("token grants {0} tenants and none was requested")]
    TenantNotChosen(usize),
    /// No key set could be fetched yet; nothing the client did.
    #[error("signing keys are unavailable")]
    KeysUnavailable(#[source] JwksError),
    /// The verifier itself is misconfigured; raised at construction only.
    #[error("auth configuration: {0}")]
    Config(String),
}

impl AuthError {
    /// The code the client receives.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Expired { .. } => ErrorCode::TokenExpired,
            AuthError::TenantNotGranted(_) | AuthError::TenantNotChosen(_) => ErrorCode::Forbidden,
            AuthError::KeysUnavailable(_) | AuthError::Config(_) => ErrorCode::Internal,
            _ => ErrorCode::InvalidToken,
        }
    }

    /// A fixed explanation for the client: enough to act on, nothing about our keys.
    pub fn client_message(&self) -> &'static str {
        match self {
            AuthError::Expired { .. } => "token has expired",
            AuthError::NotYetValid { .. } => "token is not valid yet",
            AuthError::MissingClaim(_) | AuthError::InvalidClaim(_) => {
                "token lacks a required claim or has one of the wrong type"
            }
            AuthError::WrongIssuer => "token issuer is not accepted",
            AuthError::WrongAudience => "token audience is not accepted",
            AuthError::TenantNotGranted(_) => "token does not grant the requested tenant",
            AuthError::TenantNotChosen(_) => {
                "token grants several tenants: choose one with \"tenantId\""
            }
            AuthError::KeysUnavailable(_) | AuthError::Config(_) => {
                "token could not be checked; try again later"
            }
            _ => "token is not valid",
        }
    }
}

impl Verifier {
    /// A verifier for `config`, with the HS256 secret already resolved.
    ///
    /// `config.secret` is not read: a Secrets Manager ARN must be resolved by the caller
    /// at start-up, so pass the secret's bytes as `secret` (or `None` where no token is
    /// ever verified, as in `$connect`). The JWKS, if any, is fetched on first use.
    pub fn new(config: &AuthConfig, secret: Option<&[u8]>) -> Result<Self, AuthError> {
        let secret = match secret {
            Some([]) => return Err(AuthError::Config("the HS256 secret is empty".into())),
            Some(bytes) => {
                let key = DecodingKey::from_secret(bytes)
                    .map_err(|e| AuthError::Config(format!("HS256 secret: {e}")))?;
                Some(Arc::new(Key::new(key, Algorithm::HS256)))
            }
            None => None,
        };
        let jwks = config
            .jwks_url
            .as_deref()
            .map(|url| Jwks::new(url, DEFAULT_JWKS_COOLDOWN, DEFAULT_JWKS_MAX_AGE))
            .transpose()?;
        Ok(Self {
            secret,
            jwks,
            rules: claims::Rules {
                tenant_claim: config.tenant_claim.clone(),
                leeway: i64::try_from(config.leeway.as_secs()).unwrap_or(i64::MAX),
            },
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        })
    }

    /// A verifier for `config` whose secret, if any, is inline (`JWT_SECRET`).
    ///
    /// For local use and tests; a Secrets Manager source is an error here because reading
    /// it needs the AWS SDK, which this module does not depend on.
    pub fn from_config(config: &AuthConfig) -> Result<Self, AuthError> {
        match &config.secret {
            Some(SecretSource::Inline(secret)) => Self::new(config, Some(secret.as_bytes())),
            Some(SecretSource::SecretsManager(_)) => Err(AuthError::Config(
                "the HS256 secret is in Secrets Manager; resolve it and use Verifier::new".into(),
            )),
            None => Self::new(config, None),
        }
    }

    /// Changes how long an unknown `kid` waits before triggering another JWKS fetch.
    pub fn with_jwks_cooldown(mut self, cooldown: Duration) -> Self {
        if let Some(jwks) = &mut self.jwks {
            jwks.set_cooldown(cooldown);
        }
        self
    }

    /// Changes how long a fetched JWKS is trusted before it is fetched again.
    pub fn with_jwks_max_age(mut self, max_age: Duration) -> Self {
        if let Some(jwks) = &mut self.jwks {
            jwks.set_max_age(max_age);
        }
        self
    }

    /// Verifies `token` at `now_secs` (epoch seconds) and settles the tenant.
    ///
    /// `requested_tenant` is the client's `tenantId`, which the token must grant. On
    /// success, [`Identity::token_expires_at`] is `exp` plus the leeway: the instant from
    /// which the connection's token counts as expired, consistent with this check.
    pub async fn verify(
        &self,
        token: &str,
        requested_tenant: Option<&str>,
        now_secs: i64,
    ) -> Result<Identity, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(AuthError::Malformed)?;
        let key = self.key_for(header.alg, header.kid, now_secs).await?;

        let validation = self.validation(&key);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation)
            .map_err(from_library)?;
        self.rules.check(&data.claims, requested_tenant, now_secs)
    }

    /// Selects the key for a token: HS256 to the secret, anything else to the JWKS by `kid`.
    async fn key_for(
        &self,
        alg: Algorithm,
        kid: Option<String>,
        now_secs: i64,
    ) -> Result<Arc<Key>, AuthError> {
        if alg == Algorithm::HS256 {
            return self.secret.clone().ok_or(AuthError::UnknownKey { kid });
        }
        if alg.family() == jsonwebtoken::AlgorithmFamily::Hmac {
            return Err(AuthError::AlgorithmNotAllowed(format!("{alg:?}")));
        }
        match (&self.jwks, kid) {
            (Some(jwks), Some(kid)) => jwks.find(&kid, now_secs).await,
            (_, kid) => Err(AuthError::UnknownKey { kid }),
        }
    }

    /// The library's checks we keep: signature, algorithm, issuer and audience.
    fn validation(&self, key: &Key) -> Validation {
        let mut validation = Validation::new(key.algorithm);
        validation.algorithms = vec![key.algorithm];
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.required_spec_claims = HashSet::new();
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".into());
            }
            // With no audience configured, a token naming one is still ours to accept.
            None => validation.validate_aud = false,
        }
        validation
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("jwks", &self.jwks)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Maps the library's refusals onto ours, keeping the cause where it helps the log.
fn from_library(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::AlgorithmNotAllowed("header".into())
        }
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => AuthError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => AuthError::WrongAudience,
        ErrorKind::InvalidClaimFormat(claim) if claim == "iss" => AuthError::InvalidClaim("iss"),
        ErrorKind::InvalidClaimFormat(claim) if claim == "aud" => AuthError::InvalidClaim("aud"),
        _ => AuthError::Malformed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_protocol_codes() {
        assert_eq!(
            AuthError::Expired { exp: 1 }.code(),
            ErrorCode::TokenExpired
        );
        assert_eq!(AuthError::BadSignature.code(), ErrorCode::InvalidToken);
        assert_eq!(
            AuthError::NotYetValid { nbf: 1 }.code(),
            ErrorCode::InvalidToken
        );
        assert_eq!(
            AuthError::TenantNotGranted("a".into()).code(),
            ErrorCode::Forbidden
        );
        assert_eq!(AuthError::TenantNotChosen(2).code(), ErrorCode::Forbidden);
        let unavailable = AuthError::KeysUnavailable(JwksError::NoUsableKeys);
        assert_eq!(unavailable.code(), ErrorCode::Internal);
    }

    #[test]
    fn inline_secret_must_not_be_empty() {
        let config = AuthConfig::default();
        assert!(matches!(
            Verifier::new(&config, Some(b"")),
            Err(AuthError::Config(_))
        ));
        let arn = AuthConfig {
            secret: Some(SecretSource::SecretsManager("arn:x".into())),
            ..config
        };
        assert!(matches!(
            Verifier::from_config(&arn),
            Err(AuthError::Config(_))
        ));
    }
}
