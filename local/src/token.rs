//! Development tokens: HS256 JWTs for `switchboard token`, so a newcomer can authenticate
//! without an identity provider.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

/// What to put in a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `sub`: the user id.
    pub user: String,
    /// The tenant granted, under `tenant_claim`.
    pub tenant: Option<String>,
    /// `email`, if any.
    pub email: Option<String>,
    /// Lifetime from now.
    pub ttl: Duration,
    /// Claim naming the tenant (`TENANT_CLAIM`, default `tenant_id`).
    pub tenant_claim: String,
    /// `iss`, when the server requires one (`JWT_ISSUER`).
    pub issuer: Option<String>,
    /// `aud`, when the server requires one (`JWT_AUDIENCE`).
    pub audience: Option<String>,
}

/// A token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The secret is empty.
    #[error("the secret is empty")]
    EmptySecret,
    /// The user id is empty; the server refuses a token without `sub`.
    #[error("the user id is empty")]
    EmptyUser,
    /// The tenant is empty; it could never be granted.
    #[error("the tenant is empty")]
    EmptyTenant,
    /// Signing failed.
    #[error("signing failed")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Signs `request` with the HS256 `secret`, issued at `now_secs` (epoch seconds).
pub fn mint(request: &TokenRequest, secret: &[u8], now_secs: i64) -> Result<String, TokenError> {
    if secret.is_empty() {
        return Err(TokenError::EmptySecret);
    }
    if request.user.is_empty() {
        return Err(TokenError::EmptyUser);
    }
    if request.tenant.as_deref() == Some("") {
        return Err(TokenError::EmptyTenant);
    }
    let ttl = i64::try_from(request.ttl.as_secs()).unwrap_or(i64::MAX);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(request.user));
    claims.insert("iat".into(), json!(now_secs));
    claims.insert("exp".into(), json!(now_secs.saturating_add(ttl)));
    let optional = [
        (request.tenant_claim.as_str(), &request.tenant),
        ("email", &request.email),
        ("iss", &request.issuer),
        ("aud", &request.audience),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            claims.insert(name.to_owned(), json!(value));
        }
    }
    let key = EncodingKey::from_secret(secret)?;
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &Value::Object(claims),
        &key,
    )?)
}

/// Reads a lifetime such as `90`, `90s`, `15m`, `1h` or `7d`.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 15m, 1h or 7d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    match number.checked_mul(scale) {
        Some(0) => Err("the lifetime must be positive".into()),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(format!("{text:?} is too long")),
    }
}

#[cfg(test)]
mod tests {
    use switchboard::auth::Verifier;

    use super::*;
    use crate::dev::{DEV_SECRET, dev_auth};

    fn request() -> TokenRequest {
        TokenRequest {
            user: "u1".into(),
            tenant: Some("acme".into()),
            email: None,
            ttl: Duration::from_secs(3600),
            tenant_claim: "tenant_id".into(),
            issuer: None,
            audience: None,
        }
    }

    #[test]
    fn ttl_accepts_units() {
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
        assert!(parse_ttl("0s").is_err());
    }

    #[test]
    fn empty_user_or_tenant_is_refused() {
        let no_user = TokenRequest {
            user: String::new(),
            ..request()
        };
        assert!(matches!(
            mint(&no_user, b"s", 0),
            Err(TokenError::EmptyUser)
        ));
        let no_tenant = TokenRequest {
            tenant: Some(String::new()),
            ..request()
        };
        assert!(matches!(
            mint(&no_tenant, b"s", 0),
            Err(TokenError::EmptyTenant)
        ));
    }

    #[tokio::test]
    async fn minted_token_verifies_with_the_dev_configuration() {
        let now = chrono::Utc::now().timestamp();
        let token = mint(&request(), DEV_SECRET.as_bytes(), now).unwrap();
        let verifier = Verifier::from_config(&dev_auth()).unwrap();
        let identity = verifier.verify(&token, Some("acme"), now).await.unwrap();
        assert_eq!(identity.user_id, "u1");
        assert_eq!(identity.tenant_id.as_deref(), Some("acme"));
    }

    #[test]
    fn empty_secret_is_refused() {
        assert!(matches!(
            mint(&request(), b"", 0),
            Err(TokenError::EmptySecret)
        ));
    }
}
