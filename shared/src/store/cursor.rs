//! Resumable positions in an audience read.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// An opaque position from which an audience read resumes.
///
/// It is the last examined key, as JSON, in URL-safe base64, so that it can travel inside
/// an intent to another worker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// A cursor for the key made of these string attributes.
    pub fn from_key(key: &BTreeMap<String, String>) -> Self {
        // A map of strings always serialises.
        let json = serde_json::to_vec(key).expect("string map serialises");
        Self(URL_SAFE_NO_PAD.encode(json))
    }

    /// The key this cursor stands for.
    pub fn key(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let json = URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| StoreError::InvalidCursor)?;
        serde_json::from_slice(&json).map_err(|_| StoreError::InvalidCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_key() {
        let key = BTreeMap::from([("connectionId".to_owned(), "L0SM9cOFvHcCIhw=".to_owned())]);
        assert_eq!(Cursor::from_key(&key).key().unwrap(), key);
    }

    #[test]
    fn rejects_foreign_text() {
        assert!(matches!(
            Cursor("!!".into()).key(),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            Cursor("bm9wZQ".into()).key(),
            Err(StoreError::InvalidCursor)
        ));
    }
}
