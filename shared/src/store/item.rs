//! The connection record as a DynamoDB item, and cursors as DynamoDB keys.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Cursor, StoreError};
use crate::connection::{Connection, attr};

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The item for `connection`; absent optional fields are left out, keeping the GSIs sparse.
pub(crate) fn to_item(connection: &Connection) -> Item {
    let mut item = Item::from([
        (attr::CONNECTION_ID.to_owned(), s(&connection.connection_id)),
        (
            attr::AUTHENTICATED.to_owned(),
            AttributeValue::Bool(connection.authenticated),
        ),
        (attr::CONNECTED_AT.to_owned(), n(connection.connected_at)),
        (attr::TTL.to_owned(), n(connection.ttl)),
    ]);
    let optional = [
        (attr::USER_ID, connection.user_id.as_deref().map(s)),
        (attr::TENANT_ID, connection.tenant_id.as_deref().map(s)),
        (attr::EMAIL, connection.email.as_deref().map(s)),
        (attr::TOKEN_EXPIRES_AT, connection.token_expires_at.map(n)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    }
    item
}

/// The record in `item`, or [`StoreError::Corrupt`] naming what is missing or mistyped.
pub(crate) fn from_item(item: &Item) -> Result<Connection, StoreError> {
    let id = item
        .get(attr::CONNECTION_ID)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| corrupt("?", "no connectionId"))?;
    let number = |name: &str| -> Result<Option<i64>, StoreError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(raw)) => raw
                .parse()
                .map(Some)
                .map_err(|_| corrupt(&id, &format!("{name} is not an integer"))),
            Some(_) => Err(corrupt(&id, &format!("{name} is not a number"))),
        }
    };
    let string = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();

    Ok(Connection {
        authenticated: item.get(attr::AUTHENTICATED).and_then(|v| v.as_bool().ok()) == Some(&true),
        user_id: string(attr::USER_ID),
        tenant_id: string(attr::TENANT_ID),
        email: string(attr::EMAIL),
        connected_at: number(attr::CONNECTED_AT)?.unwrap_or(0),
        ttl: number(attr::TTL)?.ok_or_else(|| corrupt(&id, "no ttl"))?,
        token_expires_at: number(attr::TOKEN_EXPIRES_AT)?,
        connection_id: id,
    })
}

/// A cursor for DynamoDB's `LastEvaluatedKey`; its attributes are always strings here.
pub(crate) fn key_to_cursor(key: &Item) -> Result<Cursor, StoreError> {
    let strings = key
        .iter()
        .map(|(name, value)| {
            Ok((
                name.clone(),
                value.as_s().map_err(|_| StoreError::InvalidCursor)?.clone(),
            ))
        })
        .collect::<Result<BTreeMap<_, _>, StoreError>>()?;
    Ok(Cursor::from_key(&strings))
}

/// The `ExclusiveStartKey` a cursor stands for.
pub(crate) fn cursor_to_key(cursor: &Cursor) -> Result<Item, StoreError> {
    Ok(cursor
        .key()?
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect())
}

pub(crate) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn corrupt(id: &str, reason: &str) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Identity;

    #[test]
    fn record_round_trips_through_an_item() {
        let pending = Connection::pending("c=1", 1_700_000_000_000, 1_700_000_030);
        assert_eq!(from_item(&to_item(&pending)).unwrap(), pending);
        let identity = Identity {
            user_id: "u1".into(),
            tenant_id: Some("acme".into()),
            email: Some("a@example.com".into()),
            token_expires_at: 1_700_003_600,
        };
        let authed = pending.authenticated_as(&identity, 1_700_000_600);
        assert_eq!(from_item(&to_item(&authed)).unwrap(), authed);
    }

    #[test]
    fn pending_item_leaves_index_keys_out() {
        let item = to_item(&Connection::pending("c1", 0, 30));
        assert!(!item.contains_key(attr::USER_ID));
        assert!(!item.contains_key(attr::TENANT_ID));
    }

    #[test]
    fn malformed_item_is_corrupt_not_a_panic() {
        let mut item = to_item(&Connection::pending("c1", 0, 30));
        item.insert(attr::TTL.into(), s("soon"));
        assert!(matches!(from_item(&item), Err(StoreError::Corrupt { .. })));
        item.remove(attr::CONNECTION_ID);
        assert!(matches!(from_item(&item), Err(StoreError::Corrupt { .. })));
    }
}
