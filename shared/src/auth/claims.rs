//! The claims we check ourselves once the signature holds: `sub`, `exp`, `nbf`, `email`
//! and the tenant claim.
//!
//! Time claims must be JSON numbers. `jsonwebtoken` would read the system clock and
//! skip a malformed claim it was not asked to validate; here `exp` as a string is a
//! refusal, and `now` comes from the caller.

use serde_json::{Map, Value};

use super::AuthError;
use crate::connection::Identity;

/// The claim rules of one configuration.
#[derive(Debug, Clone)]
pub(super) struct Rules {
    /// Claim naming the tenants a token grants, as a string or an array of strings.
    pub tenant_claim: String,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub leeway: i64,
}

impl Rules {
    /// Checks `claims` at `now` and settles the tenant the connection acts for.
    pub fn check(
        &self,
        claims: &Map<String, Value>,
        requested_tenant: Option<&str>,
        now: i64,
    ) -> Result<Identity, AuthError> {
        let exp = seconds(claims, "exp")?.ok_or(AuthError::MissingClaim("exp"))?;
        let expires_at = exp.saturating_add(self.leeway);
        if expires_at <= now {
            return Err(AuthError::Expired { exp });
        }
        if let Some(nbf) = seconds(claims, "nbf")?
            && nbf.saturating_sub(self.leeway) > now
        {
            return Err(AuthError::NotYetValid { nbf });
        }

        let user_id = match claims.get("sub") {
            None | Some(Value::Null) => return Err(AuthError::MissingClaim("sub")),
            Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
            Some(_) => return Err(AuthError::InvalidClaim("sub")),
        };
        let email = match claims.get("email") {
            Some(Value::String(email)) => Some(email.clone()),
            _ => None,
        };
        let granted = self.granted_tenants(claims)?;
        let tenant_id = choose_tenant(&granted, requested_tenant)?;

        Ok(Identity {
            user_id,
            tenant_id,
            email,
            token_expires_at: expires_at,
        })
    }

    /// The tenants the token grants; none when the claim is absent.
    fn granted_tenants(&self, claims: &Map<String, Value>) -> Result<Vec<String>, AuthError> {
        let invalid = || AuthError::InvalidClaim("tenant");
        match claims.get(&self.tenant_claim) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(one)) if one.is_empty() => Ok(Vec::new()),
            Some(Value::String(one)) => Ok(vec![one.clone()]),
            Some(Value::Array(many)) => many
                .iter()
                .filter(|v| v.as_str() != Some(""))
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(invalid))
                .collect(),
            Some(_) => Err(invalid()),
        }
    }
}

/// The tenant in effect: the requested one if granted, else the only one granted.
///
/// A token granting several tenants must be told which one: acting for none would make
/// a `broadcast` reach every connection of every tenant.
fn choose_tenant(granted: &[String], requested: Option<&str>) -> Result<Option<String>, AuthError> {
    match (requested, granted) {
        (Some(wanted), _) if granted.iter().any(|t| t == wanted) => Ok(Some(wanted.to_owned())),
        (Some(wanted), _) => Err(AuthError::TenantNotGranted(wanted.to_owned())),
        (None, []) => Ok(None),
        (None, [only]) => Ok(Some(only.clone())),
        (None, many) => Err(AuthError::TenantNotChosen(many.len())),
    }
}

/// A NumericDate claim as whole epoch seconds; `None` when absent.
fn seconds(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            // RFC 7519 allows fractional seconds; rounding down is the strict reading.
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(AuthError::InvalidClaim(name)),
        Some(_) => Err(AuthError::InvalidClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn rules() -> Rules {
        Rules {
            tenant_claim: "tenant_id".into(),
            leeway: 5,
        }
    }

    fn check(claims: Value, tenant: Option<&str>) -> Result<Identity, AuthError> {
        let Value::Object(map) = claims else {
            panic!("claims must be an object")
        };
        rules().check(&map, tenant, NOW)
    }

    #[test]
    fn identity_carries_sub_email_tenant_and_effective_expiry() {
        let claims = json!({"sub": "u1", "exp": NOW + 60, "email": "a@b.c", "tenant_id": "acme"});
        let identity = check(claims, None).unwrap();
        assert_eq!(
            identity,
            Identity {
                user_id: "u1".into(),
                tenant_id: Some("acme".into()),
                email: Some("a@b.c".into()),
                token_expires_at: NOW + 65,
            }
        );
    }

    #[test]
    fn time_claims_must_be_numbers() {
        let e = check(json!({"sub": "u1", "exp": (NOW + 60).to_string()}), None);
        assert!(matches!(e, Err(AuthError::InvalidClaim("exp"))));
        let e = check(json!({"sub": "u1", "exp": NOW + 60, "nbf": "0"}), None);
        assert!(matches!(e, Err(AuthError::InvalidClaim("nbf"))));
        let fractional = check(json!({"sub": "u1", "exp": NOW as f64 + 0.5}), None).unwrap();
        assert_eq!(fractional.token_expires_at, NOW + 5);
    }

    #[test]
    fn sub_must_be_a_non_empty_string() {
        let e = check(json!({"exp": NOW + 60}), None);
        assert!(matches!(e, Err(AuthError::MissingClaim("sub"))));
        let e = check(json!({"sub": 7, "exp": NOW + 60}), None);
        assert!(matches!(e, Err(AuthError::InvalidClaim("sub"))));
        let e = check(json!({"sub": "", "exp": NOW + 60}), None);
        assert!(matches!(e, Err(AuthError::InvalidClaim("sub"))));
    }

    #[test]
    fn tenant_is_requested_or_the_only_one_granted() {
        let base = |tenants: Value| json!({"sub": "u1", "exp": NOW + 60, "tenant_id": tenants});
        let pick = |tenants: Value, wanted| check(base(tenants), wanted).map(|i| i.tenant_id);

        assert_eq!(
            pick(json!(["a", "b"]), Some("b")).unwrap(),
            Some("b".into())
        );
        assert_eq!(pick(json!(["a"]), None).unwrap(), Some("a".into()));
        assert_eq!(pick(json!(null), None).unwrap(), None);
        assert_eq!(pick(json!([]), None).unwrap(), None);
        assert!(matches!(
            pick(json!("a"), Some("b")),
            Err(AuthError::TenantNotGranted(t)) if t == "b"
        ));
        assert!(matches!(
            pick(json!(null), Some("a")),
            Err(AuthError::TenantNotGranted(_))
        ));
        assert!(matches!(
            pick(json!(["a", "b"]), None),
            Err(AuthError::TenantNotChosen(2))
        ));
        assert!(matches!(
            pick(json!({"a": 1}), None),
            Err(AuthError::InvalidClaim("tenant"))
        ));
        assert!(matches!(
            pick(json!(["a", 1]), Some("a")),
            Err(AuthError::InvalidClaim("tenant"))
        ));
    }

    #[test]
    fn tenant_claim_name_is_configurable() {
        let rules = Rules {
            tenant_claim: "org".into(),
            leeway: 0,
        };
        let claims = json!({"sub": "u1", "exp": NOW + 1, "org": "o1", "tenant_id": "t1"});
        let identity = rules.check(claims.as_object().unwrap(), None, NOW).unwrap();
        assert_eq!(identity.tenant_id.as_deref(), Some("o1"));
    }
}
