//! The auth suite: every token is minted here with keys generated at test time, and the
//! JWKS is served by a real HTTP server on loopback that counts its fetches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use switchboard::auth::{AuthError, Verifier};
use switchboard::config::AuthConfig;
use switchboard::protocol::ErrorCode;

const NOW: i64 = 1_800_000_000;
const SECRET: &[u8] = b"test-only hs256 secret, not used anywhere else";
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "switchboard";

/// A signing key generated for this run, with its public JWK.
struct TestKey {
    encoding: EncodingKey,
    alg: Algorithm,
    kid: String,
    jwk: Value,
}

impl TestKey {
    fn rsa(kid: &str, alg: Algorithm) -> (Self, String) {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::as_der(&pair).unwrap();
        let encoding =
            EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes()).unwrap();
        let public = pair.public_key().as_der().unwrap();
        let public_pem = pem("PUBLIC KEY", public.as_ref());
        (Self::new(encoding, alg, kid), public_pem)
    }

    fn ec(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        Self::new(
            EncodingKey::from_ec_der(pkcs8.as_ref()),
            Algorithm::ES256,
            kid,
        )
    }

    fn new(encoding: EncodingKey, alg: Algorithm, kid: &str) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            encoding,
            alg,
            kid: kid.to_owned(),
            jwk: serde_json::to_value(jwk).unwrap(),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    fn sign_as(&self, alg: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn hs256(claims: &Value) -> String {
    hs256_with(SECRET, claims)
}

fn hs256_with(secret: &[u8], claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

fn claims() -> Value {
    json!({"sub": "u1", "exp": NOW + 300, "iat": NOW, "email": "u1@example.test"})
}

fn with(extra: Value) -> Value {
    let mut c = claims();
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn config(jwks_url: Option<&str>) -> AuthConfig {
    AuthConfig {
        secret: None,
        jwks_url: jwks_url.map(str::to_owned),
        issuer: None,
        audience: None,
        tenant_claim: "tenant_id".into(),
        leeway: Duration::from_secs(5),
    }
}

fn secret_verifier() -> Verifier {
    Verifier::new(&config(None), Some(SECRET)).unwrap()
}

async fn verify(v: &Verifier, token: &str) -> Result<switchboard::connection::Identity, AuthError> {
    v.verify(token, None, NOW).await
}

async fn refused(v: &Verifier, token: &str) -> ErrorCode {
    match verify(v, token).await {
        Ok(identity) => panic!("token accepted as {identity:?}"),
        Err(e) => e.code(),
    }
}

/// A JWKS endpoint on 127.0.0.1 whose document and health the test controls.
struct JwksServer {
    url: String,
    fetches: Arc<AtomicUsize>,
    document: Arc<Mutex<Value>>,
    failing: Arc<Mutex<bool>>,
}

#[derive(Clone)]
struct ServerState {
    fetches: Arc<AtomicUsize>,
    document: Arc<Mutex<Value>>,
    failing: Arc<Mutex<bool>>,
}

impl JwksServer {
    async fn start(keys: Vec<Value>) -> Self {
        let state = ServerState {
            fetches: Arc::new(AtomicUsize::new(0)),
            document: Arc::new(Mutex::new(json!({ "keys": keys }))),
            failing: Arc::new(Mutex::new(false)),
        };
        let app = axum::Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/.well-known/jwks.json"),
            fetches: state.fetches,
            document: state.document,
            failing: state.failing,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn publish(&self, keys: Vec<Value>) {
        *self.document.lock().unwrap() = json!({ "keys": keys });
    }

    fn fail(&self, failing: bool) {
        *self.failing.lock().unwrap() = failing;
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(&config(Some(&self.url)), None).unwrap()
    }
}

async fn serve_jwks(State(state): State<ServerState>) -> Result<Json<Value>, StatusCode> {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    if *state.failing.lock().unwrap() {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(Json(state.document.lock().unwrap().clone()))
}

// ---- HS256 and the registered claims -------------------------------------------------

#[tokio::test]
async fn valid_hs256_token_yields_identity() {
    let token = hs256(&with(json!({"tenant_id": "acme"})));
    let identity = verify(&secret_verifier(), &token).await.unwrap();
    assert_eq!(identity.user_id, "u1");
    assert_eq!(identity.tenant_id.as_deref(), Some("acme"));
    assert_eq!(identity.email.as_deref(), Some("u1@example.test"));
    assert_eq!(
        identity.token_expires_at,
        NOW + 300 + 5,
        "exp plus the leeway"
    );
}

#[tokio::test]
async fn auth_rejects_expired_token_beyond_leeway() {
    let v = secret_verifier();
    let token = hs256(&with(json!({"exp": NOW - 6})));
    assert!(matches!(
        verify(&v, &token).await,
        Err(AuthError::Expired { exp }) if exp == NOW - 6
    ));
    assert_eq!(refused(&v, &token).await, ErrorCode::TokenExpired);
    let at_the_edge = hs256(&with(json!({"exp": NOW - 5})));
    assert_eq!(refused(&v, &at_the_edge).await, ErrorCode::TokenExpired);
}

#[tokio::test]
async fn auth_accepts_token_expired_within_leeway() {
    let token = hs256(&with(json!({"exp": NOW - 4})));
    let identity = verify(&secret_verifier(), &token).await.unwrap();
    assert_eq!(identity.token_expires_at, NOW + 1);
}

#[tokio::test]
async fn leeway_comes_from_configuration() {
    let mut strict = config(None);
    strict.leeway = Duration::ZERO;
    let v = Verifier::new(&strict, Some(SECRET)).unwrap();
    let token = hs256(&with(json!({"exp": NOW})));
    assert_eq!(refused(&v, &token).await, ErrorCode::TokenExpired);
    let token = hs256(&with(json!({"exp": NOW + 1})));
    assert!(verify(&v, &token).await.is_ok());
}

#[tokio::test]
async fn auth_rejects_exp_given_as_a_string() {
    let token = hs256(&with(json!({"exp": (NOW + 300).to_string()})));
    let v = secret_verifier();
    assert!(matches!(
        verify(&v, &token).await,
        Err(AuthError::InvalidClaim("exp"))
    ));
    assert_eq!(refused(&v, &token).await, ErrorCode::InvalidToken);
}

#[tokio::test]
async fn auth_rejects_token_without_exp() {
    let token = hs256(&with(json!({"exp": null})));
    let v = secret_verifier();
    assert!(matches!(
        verify(&v, &token).await,
        Err(AuthError::MissingClaim("exp"))
    ));
    assert_eq!(refused(&v, &token).await, ErrorCode::InvalidToken);
}

#[tokio::test]
async fn auth_rejects_token_without_sub() {
    let token = hs256(&with(json!({"sub": null})));
    let v = secret_verifier();
    assert!(matches!(
        verify(&v, &token).await,
        Err(AuthError::MissingClaim("sub"))
    ));
}

#[tokio::test]
async fn auth_honours_nbf() {
    let v = secret_verifier();
    let future = hs256(&with(json!({"nbf": NOW + 60})));
    assert!(matches!(
        verify(&v, &future).await,
        Err(AuthError::NotYetValid { nbf }) if nbf == NOW + 60
    ));
    assert_eq!(refused(&v, &future).await, ErrorCode::InvalidToken);
    let within_leeway = hs256(&with(json!({"nbf": NOW + 5})));
    assert!(verify(&v, &within_leeway).await.is_ok());
}

#[tokio::test]
async fn auth_checks_issuer_when_configured() {
    let mut cfg = config(None);
    cfg.issuer = Some(ISSUER.into());
    let v = Verifier::new(&cfg, Some(SECRET)).unwrap();
    let good = hs256(&with(json!({"iss": ISSUER})));
    assert!(verify(&v, &good).await.is_ok());
    let wrong = hs256(&with(json!({"iss": "https://evil.test"})));
    assert!(matches!(
        verify(&v, &wrong).await,
        Err(AuthError::WrongIssuer)
    ));
    let absent = hs256(&claims());
    assert!(matches!(
        verify(&v, &absent).await,
        Err(AuthError::WrongIssuer)
    ));
    assert_eq!(refused(&v, &absent).await, ErrorCode::InvalidToken);
    // Unconfigured, any issuer passes.
    assert!(verify(&secret_verifier(), &wrong).await.is_ok());
}

#[tokio::test]
async fn auth_checks_audience_when_configured() {
    let mut cfg = config(None);
    cfg.audience = Some(AUDIENCE.into());
    let v = Verifier::new(&cfg, Some(SECRET)).unwrap();

    let ours = hs256(&with(json!({"aud": AUDIENCE})));
    assert!(verify(&v, &ours).await.is_ok());
    let list = hs256(&with(json!({"aud": ["other", AUDIENCE]})));
    assert!(verify(&v, &list).await.is_ok(), "a list containing ours");

    let wrong = hs256(&with(json!({"aud": "other"})));
    assert!(matches!(
        verify(&v, &wrong).await,
        Err(AuthError::WrongAudience)
    ));
    let wrong_list = hs256(&with(json!({"aud": ["a", "b"]})));
    assert!(matches!(
        verify(&v, &wrong_list).await,
        Err(AuthError::WrongAudience)
    ));
    let absent = hs256(&claims());
    assert!(matches!(
        verify(&v, &absent).await,
        Err(AuthError::WrongAudience)
    ));
    assert_eq!(refused(&v, &absent).await, ErrorCode::InvalidToken);
    // Unconfigured, a token naming an audience is still accepted.
    assert!(verify(&secret_verifier(), &wrong).await.is_ok());
}

#[tokio::test]
async fn auth_settles_the_tenant() {
    let v = secret_verifier();
    let token = hs256(&with(json!({"tenant_id": ["acme", "globex"]})));
    let identity = v.verify(&token, Some("globex"), NOW).await.unwrap();
    assert_eq!(identity.tenant_id.as_deref(), Some("globex"));
    let e = v.verify(&token, Some("initech"), NOW).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden);
    let e = v.verify(&token, None, NOW).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden);
}

// ---- attacks -------------------------------------------------------------------------

#[tokio::test]
async fn auth_rejects_bad_signature() {
    let v = secret_verifier();
    let other_secret = hs256_with(b"someone else's secret", &claims());
    assert!(matches!(
        verify(&v, &other_secret).await,
        Err(AuthError::BadSignature)
    ));

    // A payload swapped under a valid signature.
    let token = hs256(&claims());
    let forged_claims = URL_SAFE_NO_PAD.encode(with(json!({"sub": "admin"})).to_string());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
    assert!(matches!(
        verify(&v, &forged).await,
        Err(AuthError::BadSignature)
    ));
    assert_eq!(refused(&v, &forged).await, ErrorCode::InvalidToken);
}

#[tokio::test]
async fn auth_rejects_alg_none() {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        let v = secret_verifier();
        assert!(matches!(
            verify(&v, &token).await,
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(refused(&v, &token).await, ErrorCode::InvalidToken);
    }
}

#[tokio::test]
async fn auth_rejects_hs_variants_other_than_hs256() {
    let key = EncodingKey::from_secret(SECRET).unwrap();
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS512), &claims(), &key).unwrap();
    assert!(matches!(
        verify(&secret_verifier(), &token).await,
        Err(AuthError::AlgorithmNotAllowed(_))
    ));
}

#[tokio::test]
async fn auth_rejects_garbage() {
    let v = secret_verifier();
    for token in ["", "abc", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.e30"] {
        assert_eq!(
            refused(&v, token).await,
            ErrorCode::InvalidToken,
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn auth_rejects_hs256_signed_with_the_rsa_public_key() {
    let (rsa, public_pem) = TestKey::rsa("rsa-1", Algorithm::RS256);
    let server = JwksServer::start(vec![rsa.jwk.clone()]).await;

    // The classic confusion attack: the public key, which anyone can read, used as an
    // HMAC secret, with the RSA key's kid in the header.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let attack = jsonwebtoken::encode(
        &header,
        &claims(),
        &EncodingKey::from_secret(public_pem.as_bytes()).unwrap(),
    )
    .unwrap();

    let jwks_only = server.verifier();
    assert!(matches!(
        verify(&jwks_only, &attack).await,
        Err(AuthError::UnknownKey { .. })
    ));
    let mut both = config(Some(&server.url));
    both.secret = None;
    let both = Verifier::new(&both, Some(SECRET)).unwrap();
    assert!(matches!(
        verify(&both, &attack).await,
        Err(AuthError::BadSignature)
    ));
    assert_eq!(refused(&both, &attack).await, ErrorCode::InvalidToken);
}

#[tokio::test]
async fn auth_rejects_an_algorithm_the_key_does_not_have() {
    let (rsa, _) = TestKey::rsa("rsa-1", Algorithm::RS256);
    let ec = TestKey::ec("ec-1");
    let server = JwksServer::start(vec![rsa.jwk.clone(), ec.jwk.clone()]).await;
    let v = server.verifier();

    // Signed correctly with the RSA key, but as PS256 while the key declares RS256.
    let pss = rsa.sign_as(Algorithm::PS256, &claims());
    assert!(matches!(
        verify(&v, &pss).await,
        Err(AuthError::AlgorithmNotAllowed(_))
    ));
    // An RSA signature presented under the EC key's kid.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("ec-1".into());
    let crossed = jsonwebtoken::encode(&header, &claims(), &rsa.encoding).unwrap();
    assert!(matches!(
        verify(&v, &crossed).await,
        Err(AuthError::AlgorithmNotAllowed(_))
    ));
    assert_eq!(refused(&v, &crossed).await, ErrorCode::InvalidToken);
}

// ---- JWKS ----------------------------------------------------------------------------

#[tokio::test]
async fn valid_rs256_ps256_and_es256_tokens_verify_against_the_jwks() {
    let (rs, _) = TestKey::rsa("rs", Algorithm::RS256);
    let (ps, _) = TestKey::rsa("ps", Algorithm::PS256);
    let es = TestKey::ec("es");
    let server = JwksServer::start(vec![rs.jwk.clone(), ps.jwk.clone(), es.jwk.clone()]).await;
    let v = server.verifier();
    for key in [&rs, &ps, &es] {
        let identity = verify(&v, &key.sign(&claims())).await.unwrap();
        assert_eq!(identity.user_id, "u1", "{:?}", key.alg);
    }
    assert_eq!(server.fetches(), 1, "the set is fetched once and cached");
}

#[tokio::test]
async fn secret_and_jwks_coexist() {
    let es = TestKey::ec("es");
    let server = JwksServer::start(vec![es.jwk.clone()]).await;
    let v = Verifier::new(&config(Some(&server.url)), Some(SECRET)).unwrap();
    assert!(verify(&v, &hs256(&claims())).await.is_ok());
    assert!(verify(&v, &es.sign(&claims())).await.is_ok());
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn auth_rejects_unknown_kid_and_refetches_once_per_cooldown() {
    let known = TestKey::ec("known");
    let stranger = TestKey::ec("stranger");
    let server = JwksServer::start(vec![known.jwk.clone()]).await;
    let v = server
        .verifier()
        .with_jwks_cooldown(Duration::from_secs(60));

    assert!(verify(&v, &known.sign(&claims())).await.is_ok());
    assert_eq!(server.fetches(), 1);

    let token = stranger.sign(&claims());
    for _ in 0..3 {
        assert!(matches!(
            v.verify(&token, None, NOW + 10).await,
            Err(AuthError::UnknownKey { kid: Some(k) }) if k == "stranger"
        ));
    }
    assert_eq!(
        server.fetches(),
        1,
        "within the cooldown of the first fetch"
    );

    let e = v.verify(&token, None, NOW + 60).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidToken);
    assert_eq!(server.fetches(), 2, "one refetch once the cooldown passed");
    assert!(v.verify(&token, None, NOW + 61).await.is_err());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn auth_picks_up_a_rotated_key() {
    let old = TestKey::ec("2026-01");
    let new = TestKey::ec("2026-02");
    let server = JwksServer::start(vec![old.jwk.clone()]).await;
    let v = server
        .verifier()
        .with_jwks_cooldown(Duration::from_secs(30));
    assert!(verify(&v, &old.sign(&claims())).await.is_ok());

    server.publish(vec![new.jwk.clone()]);
    let identity = v
        .verify(&new.sign(&claims()), None, NOW + 30)
        .await
        .unwrap();
    assert_eq!(identity.user_id, "u1");
    assert_eq!(server.fetches(), 2);
    // The rotated-out key left the set with the refetch.
    assert!(matches!(
        v.verify(&old.sign(&claims()), None, NOW + 31).await,
        Err(AuthError::UnknownKey { .. })
    ));
}

#[tokio::test]
async fn withdrawn_key_stops_verifying_once_the_set_is_older_than_its_maximum_age() {
    let leaked = TestKey::ec("leaked");
    let replacement = TestKey::ec("replacement");
    let server = JwksServer::start(vec![leaked.jwk.clone()]).await;
    let v = server
        .verifier()
        .with_jwks_cooldown(Duration::from_secs(10))
        .with_jwks_max_age(Duration::from_secs(100));
    let token = leaked.sign(&with(json!({"exp": NOW + 1_000})));
    assert!(v.verify(&token, None, NOW).await.is_ok());

    server.publish(vec![replacement.jwk.clone()]);
    assert!(
        v.verify(&token, None, NOW + 99).await.is_ok(),
        "still within the maximum age"
    );
    assert_eq!(server.fetches(), 1);
    assert!(matches!(
        v.verify(&token, None, NOW + 100).await,
        Err(AuthError::UnknownKey { .. })
    ));
    assert_eq!(server.fetches(), 2, "one refetch once the set grew old");
}

#[tokio::test]
async fn old_set_is_kept_when_its_refetch_fails() {
    let key = TestKey::ec("steady");
    let server = JwksServer::start(vec![key.jwk.clone()]).await;
    let v = server
        .verifier()
        .with_jwks_cooldown(Duration::from_secs(10))
        .with_jwks_max_age(Duration::from_secs(100));
    let token = key.sign(&with(json!({"exp": NOW + 1_000})));
    assert!(v.verify(&token, None, NOW).await.is_ok());

    server.fail(true);
    assert!(v.verify(&token, None, NOW + 150).await.is_ok());
    assert_eq!(server.fetches(), 2);
    assert!(
        v.verify(&token, None, NOW + 155).await.is_ok(),
        "within the cooldown"
    );
    assert_eq!(server.fetches(), 2, "no fetch within the cooldown");
}

#[tokio::test]
async fn jwks_with_encryption_and_unknown_keys_still_serves_its_signing_keys() {
    let signing = TestKey::ec("sig");
    let encryption = TestKey::ec("enc");
    let mut enc_jwk = encryption.jwk.clone();
    enc_jwk["use"] = json!("enc");
    let unknown = json!({"kty": "ML-DSA", "kid": "pq", "alg": "ML-DSA-65", "pub": "AAAA"});
    let server = JwksServer::start(vec![enc_jwk, unknown, signing.jwk.clone()]).await;
    let v = server.verifier();

    assert!(verify(&v, &signing.sign(&claims())).await.is_ok());
    assert!(matches!(
        verify(&v, &encryption.sign(&claims())).await,
        Err(AuthError::UnknownKey { kid: Some(k) }) if k == "enc"
    ));
}

#[tokio::test]
async fn failed_refetch_keeps_the_last_good_set() {
    let known = TestKey::ec("known");
    let later = TestKey::ec("later");
    let server = JwksServer::start(vec![known.jwk.clone()]).await;
    let v = server
        .verifier()
        .with_jwks_cooldown(Duration::from_secs(10));
    assert!(verify(&v, &known.sign(&claims())).await.is_ok());

    server.fail(true);
    let e = v
        .verify(&later.sign(&claims()), None, NOW + 10)
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::UnknownKey { .. }));
    assert_eq!(server.fetches(), 2);
    assert!(
        v.verify(&known.sign(&claims()), None, NOW + 11)
            .await
            .is_ok()
    );

    server.fail(false);
    server.publish(vec![known.jwk.clone(), later.jwk.clone()]);
    assert!(
        v.verify(&later.sign(&claims()), None, NOW + 20)
            .await
            .is_ok()
    );
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn unreachable_jwks_is_an_internal_error_not_the_clients() {
    let es = TestKey::ec("es");
    let server = JwksServer::start(vec![es.jwk.clone()]).await;
    server.fail(true);
    let v = server.verifier();
    let token = es.sign(&claims());
    let e = verify(&v, &token).await.unwrap_err();
    assert!(matches!(e, AuthError::KeysUnavailable(_)));
    assert_eq!(e.code(), ErrorCode::Internal);
    // Within the cooldown nothing is fetched; after it, the set loads.
    server.fail(false);
    assert!(verify(&v, &token).await.is_err());
    assert_eq!(server.fetches(), 1);
    assert!(v.verify(&token, None, NOW + 60).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn asymmetric_token_without_kid_is_rejected() {
    let es = TestKey::ec("es");
    let server = JwksServer::start(vec![es.jwk.clone()]).await;
    let token =
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims(), &es.encoding).unwrap();
    assert!(matches!(
        verify(&server.verifier(), &token).await,
        Err(AuthError::UnknownKey { kid: None })
    ));
    assert_eq!(server.fetches(), 0, "nothing to look up");
}
