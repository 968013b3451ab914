//! Creates the connections table and the intents queues, idempotently, at any endpoint.
//!
//! For local use and tests; production resources come from the CDK app in `infra/`, which
//! must agree with what is created here (keys, indexes, TTL, redrive, message size).

use std::time::Duration;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::connection::{TENANT_INDEX, USER_INDEX, attr};
use crate::limits::MAX_QUEUE_MESSAGE_BYTES;
use crate::store::BoxError;

/// Queue attributes to create with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// How long a received message stays hidden.
    pub visibility_timeout: Duration,
    /// Receives before a message moves to the dead-letter queue.
    pub max_receive_count: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: 5,
        }
    }
}

/// The URLs of a queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    /// The intents queue.
    pub url: String,
    /// Where messages go after too many receives.
    pub dead_letter_url: String,
}

/// Provisioning failed.
#[derive(Debug, thiserror::Error)]
#[error("provisioning {resource} failed: {source}")]
pub struct ProvisionError {
    /// What was being created.
    pub resource: String,
    /// Why it failed.
    #[source]
    pub source: BoxError,
}

/// Creates the connections table with both GSIs and TTL on `ttl`; an existing table is
/// left as it is. Returns once the table is active.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), ProvisionError> {
    let fail = |e: String| ProvisionError {
        resource: format!("table {table}"),
        source: e.into(),
    };
    let key = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
            .expect("set")
    };
    let string = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("set")
    };
    let index = |name: &str, attribute: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(attribute))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("set")
    };

    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(attr::CONNECTION_ID))
        .attribute_definitions(string(attr::CONNECTION_ID))
        .attribute_definitions(string(attr::USER_ID))
        .attribute_definitions(string(attr::TENANT_ID))
        .global_secondary_indexes(index(USER_INDEX, attr::USER_ID))
        .global_secondary_indexes(index(TENANT_INDEX, attr::TENANT_ID))
        .send()
        .await;
    if let Err(e) = created {
        let exists = e
            .as_service_error()
            .is_some_and(|se| se.is_resource_in_use_exception());
        if !exists {
            return Err(fail(DisplayErrorContext(e).to_string()));
        }
    }

    let mut active = false;
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        if described.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            active = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !active {
        return Err(fail("the table did not become ACTIVE within 60 s".into()));
    }

    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(attr::TTL)
        .enabled(true)
        .build()
        .expect("set");
    if let Err(e) = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        // DynamoDB refuses to enable TTL twice; that is the state we want.
        let text = DisplayErrorContext(&e).to_string();
        if !text.contains("already enabled") {
            return Err(fail(text));
        }
    }
    Ok(())
}

/// Creates the queue `name` and its dead-letter queue `{name}-dlq`, with the redrive policy,
/// the visibility timeout and the maximum message size set explicitly.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    settings: QueueSettings,
) -> Result<QueueUrls, ProvisionError> {
    let fail = |e: String| ProvisionError {
        resource: format!("queue {name}"),
        source: e.into(),
    };
    let size = MAX_QUEUE_MESSAGE_BYTES.to_string();

    let dlq_attributes = [
        (QueueAttributeName::MaximumMessageSize, size.clone()),
        (
            QueueAttributeName::MessageRetentionPeriod,
            "1209600".to_owned(),
        ),
    ];
    let dead_letter_url = ensure_queue(client, &format!("{name}-dlq"), &dlq_attributes)
        .await
        .map_err(fail)?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dead_letter_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| fail(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| fail("no dead-letter queue ARN".into()))?;

    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": settings.max_receive_count,
    });
    let attributes = [
        (QueueAttributeName::MaximumMessageSize, size),
        (
            QueueAttributeName::VisibilityTimeout,
            settings.visibility_timeout.as_secs().to_string(),
        ),
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
    ];
    let url = ensure_queue(client, name, &attributes)
        .await
        .map_err(fail)?;
    Ok(QueueUrls {
        url,
        dead_letter_url,
    })
}

/// The URL of queue `name`, created with `attributes`; an existing queue with other
/// attributes (an earlier run with other settings) gets them set, as CreateQueue refuses.
async fn ensure_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String, String> {
    use aws_sdk_sqs::error::DisplayErrorContext;

    let mut create = client.create_queue().queue_name(name);
    for (key, value) in attributes {
        create = create.attributes(key.clone(), value);
    }
    match create.send().await {
        Ok(out) => out.queue_url.ok_or_else(|| "no queue URL".to_owned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_queue_name_exists()) =>
        {
            let url = client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| DisplayErrorContext(e).to_string())?
                .queue_url
                .ok_or_else(|| "no queue URL".to_owned())?;
            client
                .set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes.iter().cloned().collect()))
                .send()
                .await
                .map_err(|e| DisplayErrorContext(e).to_string())?;
            Ok(url)
        }
        Err(e) => Err(DisplayErrorContext(e).to_string()),
    }
}
