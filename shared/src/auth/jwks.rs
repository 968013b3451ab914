//! The JSON Web Key Set behind `JWKS_URL`: fetched on first use, cached by `kid`,
//! refetched when a token names a `kid` we do not know or the set is older than its
//! maximum age, at most once per cooldown.
//!
//! The maximum age is what retires a key the identity provider withdrew (after a leak,
//! say): without it a warm container would trust the key for as long as it lives. A
//! failed fetch keeps the last good set, so an identity provider's outage does not
//! log everyone out. Keys we cannot use (encryption keys, symmetric keys, unknown key
//! types or curves) are skipped one by one rather than failing the whole set.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::{AuthError, JWKS_FETCH_TIMEOUT};

/// A verification key and the one algorithm it accepts.
pub(super) struct Key {
    pub decoding: DecodingKey,
    pub algorithm: Algorithm,
}

/// The cached key set of one URL (one issuer).
pub(super) struct Jwks {
    url: String,
    client: reqwest::Client,
    cooldown: i64,
    /// Seconds after a successful fetch at which the set is fetched again.
    max_age: i64,
    cache: RwLock<Cache>,
    /// Serialises fetches, so a burst of unknown `kid`s costs one request.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<Key>>,
    /// Epoch seconds of the last successful fetch; `None` before the first.
    fetched_at: Option<i64>,
    /// Epoch seconds of the last fetch attempt, successful or not.
    last_attempt: Option<i64>,
}

/// Why a key set could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The request failed or answered with an error status.
    #[error("fetching the key set failed")]
    Http(#[source] reqwest::Error),
    /// The body is not a JSON object with a `keys` array.
    #[error("the key set is not a JSON object with a \"keys\" array")]
    NotAKeySet,
    /// Every key in the set was unusable.
    #[error("the key set has no usable signing key")]
    NoUsableKeys,
    /// A fetch failed earlier and the cooldown has not passed yet.
    #[error("no key set yet; the last fetch failed less than the cooldown ago")]
    CoolingDown,
}

impl Key {
    pub fn new(decoding: DecodingKey, algorithm: Algorithm) -> Self {
        Self {
            decoding,
            algorithm,
        }
    }
}

impl Jwks {
    pub fn new(url: &str, cooldown: Duration, max_age: Duration) -> Result<Self, AuthError> {
        let client = reqwest::Client::builder()
            .timeout(JWKS_FETCH_TIMEOUT)
            .build()
            .map_err(|e| AuthError::Config(format!("JWKS client: {e}")))?;
        let mut jwks = Self {
            url: url.to_owned(),
            client,
            cooldown: 0,
            max_age: secs(max_age),
            cache: RwLock::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
        };
        jwks.set_cooldown(cooldown);
        Ok(jwks)
    }

    pub fn set_cooldown(&mut self, cooldown: Duration) {
        self.cooldown = secs(cooldown);
    }

    pub fn set_max_age(&mut self, max_age: Duration) {
        self.max_age = secs(max_age);
    }

    /// The key named `kid`, fetching the set if the key is unknown or the set has grown
    /// old, and the cooldown allows.
    pub async fn find(&self, kid: &str, now: i64) -> Result<Arc<Key>, AuthError> {
        if let Some(key) = self.fresh(kid, now) {
            return Ok(key);
        }
        let _gate = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        if let Some(key) = self.fresh(kid, now) {
            return Ok(key);
        }
        let unknown = || AuthError::UnknownKey {
            kid: Some(kid.to_owned()),
        };

        let (loaded, last_attempt) = {
            let cache = self.read();
            (cache.fetched_at.is_some(), cache.last_attempt)
        };
        if last_attempt.is_some_and(|t| now.saturating_sub(t) < self.cooldown) {
            // An old set is still the best there is until the next attempt is allowed.
            return match self.cached(kid) {
                Some(key) => Ok(key),
                None if loaded => Err(unknown()),
                None => Err(AuthError::KeysUnavailable(JwksError::CoolingDown)),
            };
        }

        self.write().last_attempt = Some(now);
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "key set fetched");
                let mut cache = self.write();
                cache.keys = keys;
                cache.fetched_at = Some(now);
            }
            Err(e) if loaded => {
                tracing::warn!(
                    url = %self.url,
                    error = %chain(&e),
                    "key set refetch failed; keeping the last good set"
                );
            }
            Err(e) => {
                tracing::error!(url = %self.url, error = %chain(&e), "key set fetch failed");
                return Err(AuthError::KeysUnavailable(e));
            }
        }
        self.cached(kid).ok_or_else(unknown)
    }

    fn cached(&self, kid: &str) -> Option<Arc<Key>> {
        self.read().keys.get(kid).cloned()
    }

    /// The key named `kid`, if the set holding it is younger than the maximum age.
    fn fresh(&self, kid: &str, now: i64) -> Option<Arc<Key>> {
        let cache = self.read();
        let young = cache
            .fetched_at
            .is_some_and(|t| now.saturating_sub(t) < self.max_age);
        if young {
            cache.keys.get(kid).cloned()
        } else {
            None
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<Key>>, JwksError> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(JwksError::Http)?;
        let document: Value = response.json().await.map_err(JwksError::Http)?;
        parse_key_set(&document)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        // The cache holds no invariant a panicking writer could break halfway.
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.url)
            .field("cooldown", &self.cooldown)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// The usable signing keys of a JWKS document, by `kid`.
fn parse_key_set(document: &Value) -> Result<HashMap<String, Arc<Key>>, JwksError> {
    let entries = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JwksError::NotAKeySet)?;
    let keys: HashMap<_, _> = entries
        .iter()
        .filter_map(|entry| match usable_key(entry) {
            Ok(pair) => Some(pair),
            Err(reason) => {
                let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("");
                tracing::debug!(kid, reason, "skipping JWKS key");
                None
            }
        })
        .collect();
    if keys.is_empty() {
        return Err(JwksError::NoUsableKeys);
    }
    Ok(keys)
}

/// One JWKS entry as `(kid, key)`, or why it is skipped.
fn usable_key(entry: &Value) -> Result<(String, Arc<Key>), &'static str> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).map_err(|_| "not a key we can read")?;
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err("not a signing key");
    }
    let kid = jwk.common.key_id.clone().ok_or("no kid")?;
    let algorithm = pinned_algorithm(&jwk)?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| "key material is invalid")?;
    Ok((kid, Arc::new(Key::new(decoding, algorithm))))
}

/// The one algorithm a key verifies: the one it declares, or the one its type implies.
fn pinned_algorithm(jwk: &Jwk) -> Result<Algorithm, &'static str> {
    let declared = match jwk.common.key_algorithm {
        None => None,
        Some(alg) => Some(signing_algorithm(alg).ok_or("declares a non-signing algorithm")?),
    };
    let (implied, allowed): (Algorithm, &[Algorithm]) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (
            Algorithm::RS256,
            &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
        ),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => (Algorithm::ES256, &[Algorithm::ES256]),
            EllipticCurve::P384 => (Algorithm::ES384, &[Algorithm::ES384]),
            _ => return Err("unsupported curve"),
        },
        // Symmetric keys have no business in a published key set, and EdDSA is not offered.
        AlgorithmParameters::OctetKey(_) => return Err("symmetric key"),
        AlgorithmParameters::OctetKeyPair(_) => return Err("unsupported key type"),
        _ => return Err("unknown key type"),
    };
    match declared {
        None => Ok(implied),
        Some(alg) if allowed.contains(&alg) => Ok(alg),
        Some(_) => Err("declared algorithm does not fit the key type"),
    }
}

fn signing_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        _ => return None,
    })
}

fn chain(e: &dyn std::error::Error) -> String {
    crate::queue::error_chain(e)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // The P-256 test vector of RFC 7517, appendix A.1: public material only.
    const EC_X: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    const EC_Y: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";

    fn ec(extra: Value) -> Value {
        let mut key = json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": "ec"});
        key.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        key
    }

    #[test]
    fn skips_unusable_keys_and_keeps_the_rest() {
        let document = json!({"keys": [
            ec(json!({})),
            ec(json!({"kid": "enc", "use": "enc"})),
            ec(json!({"kid": "oops", "alg": "RS256"})),
            ec(json!({"kid": "wrap", "alg": "RSA-OAEP"})),
            {"kty": "OKP", "crv": "X25519", "x": EC_X, "kid": "okp"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "oct"},
            {"kty": "PQC", "kid": "future", "pub": "AAAA"},
            {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y},
        ]});
        let keys = parse_key_set(&document).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["ec"]);
        assert_eq!(keys["ec"].algorithm, Algorithm::ES256);
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        let document = json!({"keys": [ec(json!({"use": "enc"}))]});
        assert!(matches!(
            parse_key_set(&document),
            Err(JwksError::NoUsableKeys)
        ));
        assert!(matches!(
            parse_key_set(&json!([1])),
            Err(JwksError::NotAKeySet)
        ));
    }
}
