//! Identifiers in API Gateway's shape.
//!
//! Connection, request and message ids from API Gateway are the padded URL-safe base64 of
//! eight bytes: twelve characters ending in `=`, such as `L0SM9cOFvHcCIhw=`. Handlers and
//! stores treat them as opaque, but matching the shape keeps percent-encoding of the `=` in
//! Management API paths honest.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use rand::Rng;

/// A fresh random id: 12 characters, the last one `=`.
pub fn random_id() -> String {
    let bytes: [u8; 8] = rand::rng().random();
    URL_SAFE.encode(bytes)
}

/// A fresh API id: ten lowercase letters and digits, like `abcdef1234`.
pub fn random_api_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_api_gateway_shape() {
        let id = random_id();
        assert_eq!(id.len(), 12);
        assert!(id.ends_with('='));
        assert!(
            id[..11]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn ids_are_distinct() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| random_id()).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn api_id_is_ten_lowercase_characters() {
        let id = random_api_id();
        assert_eq!(id.len(), 10);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }
}
