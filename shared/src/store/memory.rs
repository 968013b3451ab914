//! The embedded store: connection records in memory, for local use and tests.
//!
//! It keeps DynamoDB's observable semantics: conditional writes, sparse user and tenant
//! indexes, pages limited by rows *examined* (so filtering can empty a page), and scan
//! segments that partition the table.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::RwLock;

use async_trait::async_trait;

use super::{Audience, ConnectionStore, Cursor, Page, StoreError};
use crate::clock::{self, SharedClock};
use crate::connection::{Connection, Identity, attr};

/// Connection records in memory.
pub struct MemoryStore {
    clock: SharedClock,
    tables: RwLock<Tables>,
}

#[derive(Default)]
struct Tables {
    rows: BTreeMap<String, Connection>,
    by_user: HashMap<String, BTreeSet<String>>,
    by_tenant: HashMap<String, BTreeSet<String>>,
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(clock::system())
    }

    /// An empty store judging expiry by `clock`.
    pub fn with_clock(clock: SharedClock) -> Self {
        Self {
            clock,
            tables: RwLock::new(Tables::default()),
        }
    }

    /// Every row, expired or not, as a test or an operator would see the raw table.
    pub fn rows(&self) -> Vec<Connection> {
        self.read().rows.values().cloned().collect()
    }

    /// Inserts a row as is, bypassing every rule; for seeding tests with odd rows.
    pub fn insert_raw(&self, connection: Connection) {
        self.write().upsert(connection);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing the store, so poisoning is ignored.
        self.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn save_pending(&self, connection: &Connection) -> Result<(), StoreError> {
        self.write().upsert(connection.clone());
        Ok(())
    }

    async fn authenticate(
        &self,
        connection_id: &str,
        identity: &Identity,
        ttl: i64,
    ) -> Result<Connection, StoreError> {
        let now = self.clock.now_secs();
        let mut tables = self.write();
        let row = tables
            .rows
            .get(connection_id)
            .filter(|c| c.is_alive(now))
            .cloned()
            .ok_or_else(|| StoreError::NotFound(connection_id.to_owned()))?;
        if row.authenticated && row.user_id.as_deref() != Some(identity.user_id.as_str()) {
            return Err(StoreError::OtherUser(connection_id.to_owned()));
        }
        let updated = row.authenticated_as(identity, ttl);
        tables.upsert(updated.clone());
        Ok(updated)
    }

    async fn refresh(&self, connection_id: &str, ttl: i64) -> Result<(), StoreError> {
        let now = self.clock.now_secs();
        let mut tables = self.write();
        match tables
            .rows
            .get_mut(connection_id)
            .filter(|c| c.is_alive(now))
        {
            Some(row) => {
                row.ttl = ttl;
                Ok(())
            }
            None => Err(StoreError::NotFound(connection_id.to_owned())),
        }
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let now = self.clock.now_secs();
        Ok(self
            .read()
            .rows
            .get(connection_id)
            .filter(|c| c.is_alive(now))
            .cloned())
    }

    async fn remove(&self, connection_id: &str) -> Result<(), StoreError> {
        self.write().remove(connection_id);
        Ok(())
    }

    async fn remove_if_same(
        &self,
        connection_id: &str,
        connected_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tables = self.write();
        let same = tables
            .rows
            .get(connection_id)
            .is_some_and(|c| c.connected_at == connected_at);
        if same {
            tables.remove(connection_id);
        }
        Ok(same)
    }

    async fn remove_many(&self, connection_ids: &[String]) -> Result<(), StoreError> {
        let mut tables = self.write();
        for id in connection_ids {
            tables.remove(id);
        }
        Ok(())
    }

    async fn page(
        &self,
        audience: &Audience,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let after = match cursor {
            Some(cursor) => Some(
                cursor
                    .key()?
                    .remove(attr::CONNECTION_ID)
                    .ok_or(StoreError::InvalidCursor)?,
            ),
            None => None,
        };
        let lower = after
            .as_ref()
            .map_or(Bound::Unbounded, |id| Bound::Excluded(id.as_str()));
        let tables = self.read();
        let empty = BTreeSet::new();

        let candidates: Box<dyn Iterator<Item = &String> + '_> = match audience {
            Audience::User { user_id, .. } => Box::new(
                tables
                    .by_user
                    .get(user_id)
                    .unwrap_or(&empty)
                    .range::<str, _>((lower, Bound::Unbounded)),
            ),
            Audience::Tenant(tenant_id) => Box::new(
                tables
                    .by_tenant
                    .get(tenant_id)
                    .unwrap_or(&empty)
                    .range::<str, _>((lower, Bound::Unbounded)),
            ),
            Audience::Segment(segment) => Box::new(
                tables
                    .rows
                    .range::<str, _>((lower, Bound::Unbounded))
                    .map(|(id, _)| id)
                    .filter(move |id| segment_of(id, segment.total) == segment.index),
            ),
        };

        let now = self.clock.now_secs();
        let mut candidates = candidates.peekable();
        let mut last = None;
        let mut connections = Vec::new();
        for id in candidates.by_ref().take(limit.max(1)) {
            last = Some(id.clone());
            let Some(row) = tables.rows.get(id) else {
                continue;
            };
            if row.authenticated && row.is_alive(now) && matches_tenant(audience, row) {
                connections.push(row.clone());
            }
        }
        let more = candidates.peek().is_some();
        let next = match (more, last) {
            (true, Some(id)) => Some(Cursor::from_key(&BTreeMap::from([(
                attr::CONNECTION_ID.to_owned(),
                id,
            )]))),
            _ => None,
        };
        Ok(Page { connections, next })
    }
}

impl Tables {
    fn upsert(&mut self, connection: Connection) {
        self.remove(&connection.connection_id);
        let id = connection.connection_id.clone();
        if let Some(user) = &connection.user_id {
            self.by_user
                .entry(user.clone())
                .or_default()
                .insert(id.clone());
        }
        if let Some(tenant) = &connection.tenant_id {
            self.by_tenant
                .entry(tenant.clone())
                .or_default()
                .insert(id.clone());
        }
        self.rows.insert(id, connection);
    }

    fn remove(&mut self, connection_id: &str) {
        let Some(old) = self.rows.remove(connection_id) else {
            return;
        };
        if let Some(user) = &old.user_id {
            unindex(&mut self.by_user, user, connection_id);
        }
        if let Some(tenant) = &old.tenant_id {
            unindex(&mut self.by_tenant, tenant, connection_id);
        }
    }
}

fn unindex(index: &mut HashMap<String, BTreeSet<String>>, key: &str, connection_id: &str) {
    if let Some(ids) = index.get_mut(key) {
        ids.remove(connection_id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

fn matches_tenant(audience: &Audience, row: &Connection) -> bool {
    match audience {
        Audience::User {
            tenant_id: Some(tenant),
            ..
        } => row.tenant_id.as_ref() == Some(tenant),
        _ => true,
    }
}

/// The scan segment a row falls in: FNV-1a of its id, so segments are stable across runs.
fn segment_of(connection_id: &str, total: u32) -> u32 {
    let hash = connection_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    u32::try_from(hash % u64::from(total.max(1))).unwrap_or(0)
}
