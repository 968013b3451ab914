//! The store on DynamoDB.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, WriteRequest,
};
use futures::StreamExt as _;
use tracing::warn;

use super::item::{Item, cursor_to_key, from_item, key_to_cursor, n, s, to_item};
use super::{Audience, ConnectionStore, Cursor, Page, StoreError};
use crate::clock::{self, SharedClock};
use crate::connection::{Connection, Identity, TENANT_INDEX, USER_INDEX, attr};
use crate::limits::STORE_BATCH_WRITE;

/// The filter every audience read applies: authenticated rows whose `ttl` has not passed.
const ALIVE: &str = "#auth = :true AND #ttl > :now";

/// How many times `remove_many` resubmits what DynamoDB left unprocessed.
const UNPROCESSED_RETRIES: u32 = 8;

/// Connection records in a DynamoDB table (schema in [`crate::connection`]).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: SharedClock,
}

impl DynamoStore {
    /// A store on `table`, judging expiry by the system clock.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with_clock(client, table, clock::system())
    }

    /// A store on `table`, judging expiry by `clock`.
    pub fn with_clock(client: Client, table: impl Into<String>, clock: SharedClock) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes a row as is, bypassing every rule; for seeding tests with odd rows.
    pub async fn insert_raw(&self, connection: &Connection) -> Result<(), StoreError> {
        self.save_pending(connection).await
    }

    fn key(connection_id: &str) -> Item {
        Item::from([(attr::CONNECTION_ID.to_owned(), s(connection_id))])
    }

    /// One page of a GSI whose partition key `key` equals `value`, optionally only rows in
    /// `tenant`. Never a consistent read: DynamoDB refuses those on a GSI.
    async fn query_index(
        &self,
        index: &str,
        key: &str,
        value: &str,
        tenant: Option<&str>,
        start: Option<Item>,
        limit: i32,
    ) -> Result<(Option<Vec<Item>>, Option<Item>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#key = :key")
            .expression_attribute_names("#key", key)
            .expression_attribute_values(":key", s(value))
            .expression_attribute_names("#auth", attr::AUTHENTICATED)
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", n(self.clock.now_secs()));
        let filter = match tenant {
            Some(tenant) => {
                query = query
                    .expression_attribute_names("#tenant", attr::TENANT_ID)
                    .expression_attribute_values(":tenant", s(tenant));
                format!("{ALIVE} AND #tenant = :tenant")
            }
            None => ALIVE.to_owned(),
        };
        let out = query
            .filter_expression(filter)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| backend("Query", e))?;
        Ok((out.items, out.last_evaluated_key))
    }

    /// Runs one `BatchWriteItem`, resubmitting what DynamoDB leaves unprocessed.
    async fn write_batch(&self, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..=UNPROCESSED_RETRIES {
            if requests.is_empty() {
                return Ok(());
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt.min(6))).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| backend("BatchWriteItem", e))?;
            requests = out
                .unprocessed_items
                .and_then(|mut items| items.remove(&self.table))
                .unwrap_or_default();
        }
        Err(StoreError::Backend {
            operation: "BatchWriteItem",
            source: format!("{} writes still unprocessed after retries", requests.len()).into(),
        })
    }
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn save_pending(&self, connection: &Connection) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(connection)))
            .send()
            .await
            .map_err(|e| backend("PutItem", e))?;
        Ok(())
    }

    async fn save_all(&self, connections: &[Connection]) -> Result<(), StoreError> {
        let requests: Vec<WriteRequest> = connections
            .iter()
            .map(|c| {
                let put = PutRequest::builder()
                    .set_item(Some(to_item(c)))
                    .build()
                    .expect("item is set");
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        let batches: Vec<Vec<WriteRequest>> = requests
            .chunks(STORE_BATCH_WRITE)
            .map(<[WriteRequest]>::to_vec)
            .collect();
        // A few batches in flight at once: moto and DynamoDB both take them in parallel.
        let mut writes = futures::stream::iter(batches)
            .map(|batch| self.write_batch(batch))
            .buffer_unordered(4);
        while let Some(written) = writes.next().await {
            written?;
        }
        Ok(())
    }

    async fn authenticate(
        &self,
        connection_id: &str,
        identity: &Identity,
        ttl: i64,
    ) -> Result<Connection, StoreError> {
        let mut set = vec![
            "#auth = :true",
            "#user = :user",
            "#exp = :exp",
            "#ttl = :ttl",
        ];
        let mut remove = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection_id)))
            .expression_attribute_names("#id", attr::CONNECTION_ID)
            .expression_attribute_names("#auth", attr::AUTHENTICATED)
            .expression_attribute_names("#user", attr::USER_ID)
            .expression_attribute_names("#tenant", attr::TENANT_ID)
            .expression_attribute_names("#email", attr::EMAIL)
            .expression_attribute_names("#exp", attr::TOKEN_EXPIRES_AT)
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":user", s(&identity.user_id))
            .expression_attribute_values(":exp", n(identity.token_expires_at))
            .expression_attribute_values(":ttl", n(ttl))
            .expression_attribute_values(":now", n(self.clock.now_secs()));
        match &identity.tenant_id {
            Some(tenant) => {
                set.push("#tenant = :tenant");
                update = update.expression_attribute_values(":tenant", s(tenant));
            }
            None => remove.push("#tenant"),
        }
        match &identity.email {
            Some(email) => {
                set.push("#email = :email");
                update = update.expression_attribute_values(":email", s(email));
            }
            None => remove.push("#email"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }

        let sent = update
            .update_expression(expression)
            .condition_expression(
                "attribute_exists(#id) AND #ttl > :now \
                 AND (attribute_not_exists(#user) OR #user = :user)",
            )
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match sent {
            Ok(out) => from_item(&out.attributes.unwrap_or_default()),
            Err(e) if is_condition_failure(&e) => {
                // Which half of the condition failed: only the rare refusal pays a read.
                Err(match self.get(connection_id).await? {
                    Some(_) => StoreError::OtherUser(connection_id.to_owned()),
                    None => StoreError::NotFound(connection_id.to_owned()),
                })
            }
            Err(e) => Err(backend("UpdateItem", e)),
        }
    }

    async fn refresh(&self, connection_id: &str, ttl: i64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection_id)))
            .update_expression("SET #ttl = :ttl")
            .condition_expression("attribute_exists(#id) AND #ttl > :now")
            .expression_attribute_names("#id", attr::CONNECTION_ID)
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":ttl", n(ttl))
            .expression_attribute_values(":now", n(self.clock.now_secs()))
            .send()
            .await
            .map_err(|e| {
                if is_condition_failure(&e) {
                    StoreError::NotFound(connection_id.to_owned())
                } else {
                    backend("UpdateItem", e)
                }
            })?;
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        let now = self.clock.now_secs();
        match out.item {
            Some(item) => Ok(Some(from_item(&item)?).filter(|c| c.is_alive(now))),
            None => Ok(None),
        }
    }

    async fn remove(&self, connection_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection_id)))
            .send()
            .await
            .map_err(|e| backend("DeleteItem", e))?;
        Ok(())
    }

    async fn remove_if_same(
        &self,
        connection_id: &str,
        connected_at: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(connection_id)))
            .condition_expression("#at = :at")
            .expression_attribute_names("#at", attr::CONNECTED_AT)
            .expression_attribute_values(":at", n(connected_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(backend("DeleteItem", e)),
        }
    }

    async fn remove_many(&self, connection_ids: &[String]) -> Result<(), StoreError> {
        // BatchWriteItem refuses a batch that names one key twice.
        let unique: BTreeSet<&String> = connection_ids.iter().collect();
        let requests: Vec<WriteRequest> = unique
            .into_iter()
            .map(|id| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(Self::key(id)))
                    .build()
                    .expect("key is set");
                WriteRequest::builder().delete_request(delete).build()
            })
            .collect();
        for chunk in requests.chunks(STORE_BATCH_WRITE) {
            self.write_batch(chunk.to_vec()).await?;
        }
        Ok(())
    }

    async fn page(
        &self,
        audience: &Audience,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let start = cursor.map(cursor_to_key).transpose()?;
        let limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);

        let (items, last) = match audience {
            Audience::User { user_id, tenant_id } => {
                self.query_index(
                    USER_INDEX,
                    attr::USER_ID,
                    user_id,
                    tenant_id.as_deref(),
                    start,
                    limit,
                )
                .await?
            }
            Audience::Tenant(tenant_id) => {
                self.query_index(TENANT_INDEX, attr::TENANT_ID, tenant_id, None, start, limit)
                    .await?
            }
            Audience::Segment(segment) => {
                let to_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
                let out = self
                    .client
                    .scan()
                    .table_name(&self.table)
                    .segment(to_i32(segment.index))
                    .total_segments(to_i32(segment.total))
                    .filter_expression(ALIVE)
                    .expression_attribute_names("#auth", attr::AUTHENTICATED)
                    .expression_attribute_names("#ttl", attr::TTL)
                    .expression_attribute_values(":true", AttributeValue::Bool(true))
                    .expression_attribute_values(":now", n(self.clock.now_secs()))
                    .limit(limit)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| backend("Scan", e))?;
                (out.items, out.last_evaluated_key)
            }
        };

        // A malformed row (written by something other than Switchboard) is skipped, not
        // fatal: failing the page would stop every delivery to this audience at that row.
        let connections = items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                from_item(item)
                    .inspect_err(|e| warn!(error = %e, "skipping malformed connection row"))
                    .ok()
            })
            .collect();
        let next = match last {
            Some(key) if !key.is_empty() => Some(key_to_cursor(&key)?),
            _ => None,
        };
        Ok(Page { connections, next })
    }
}

fn is_condition_failure<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>,
) -> bool {
    e.as_service_error()
        .is_some_and(|se| se.is_conditional_check_failed_exception())
}

fn backend<E, R>(operation: &'static str, e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    // DisplayErrorContext keeps the service's code and message, which SdkError's own
    // Display reduces to "service error".
    let detail = aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string();
    StoreError::Backend {
        operation,
        source: detail.into(),
    }
}
