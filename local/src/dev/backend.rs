//! Where connection records and intents live in `switchboard dev`: in memory, or in
//! DynamoDB and SQS at the endpoint the SDK variables name.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use switchboard::config::Lookup;
use switchboard::provision::{self, ProvisionError, QueueSettings};
use switchboard::queue::{MemoryQueue, MemoryQueueConfig, SharedQueue, SqsQueue};
use switchboard::store::{DynamoStore, MemoryStore, SharedStore};

use crate::event_source::records::queue_arn;

/// Queue created by `--create` when no `--queue-url` is given.
pub const DEFAULT_QUEUE_NAME: &str = "switchboard-intents";
/// Table created by `--create` when no `--table` is given.
pub const DEFAULT_TABLE_NAME: &str = "switchboard-connections";

/// Which store and queue to run on.
#[derive(Debug, Clone, Default)]
pub enum BackendChoice {
    /// In memory, gone when the process ends.
    #[default]
    Embedded,
    /// DynamoDB and SQS through the SDK.
    Aws(Box<AwsBackend>),
}

/// DynamoDB and SQS resources.
#[derive(Debug, Clone)]
pub struct AwsBackend {
    /// SDK configuration: endpoint, region, credentials.
    pub sdk: SdkConfig,
    /// Connections table.
    pub table: String,
    /// Intents queue URL; with `create`, its last path segment names the queue to create.
    pub queue_url: Option<String>,
    /// Create the table and queue (and its dead-letter queue) if missing.
    pub create: bool,
}

/// A ready store and queue, and how to describe them.
pub struct Backend {
    pub store: SharedStore,
    pub queue: SharedQueue,
    /// `eventSourceARN` for the queue's records.
    pub queue_arn: String,
    /// Region for the records' `awsRegion`.
    pub region: String,
    /// One line each for the start-up banner.
    pub store_description: String,
    pub queue_description: String,
}

/// Why the backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// `--queue-url` is required unless `--create` makes the queue.
    #[error("INTENTS_QUEUE_URL: must be set (or pass --create to make a queue)")]
    MissingQueue,
    /// Creating a resource failed.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
}

/// SDK configuration from the environment for a local endpoint: the SDK's own variables
/// (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS`, region,
/// credentials) where set, and otherwise `us-east-1` and dummy credentials, which local
/// endpoints such as moto accept. Falling back keeps the SDK from probing instance
/// metadata on a laptop.
pub async fn sdk_config(env: &dyn Lookup) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if env.var("AWS_REGION").is_none() && env.var("AWS_DEFAULT_REGION").is_none() {
        loader = loader.region(Region::new(switchboard::aws::DEFAULT_REGION));
    }
    let has_credentials = [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ]
    .iter()
    .any(|name| env.var(name).is_some());
    if !has_credentials {
        loader = loader.credentials_provider(switchboard::aws::dummy_credentials());
    }
    loader.load().await
}

impl Backend {
    /// Builds the chosen backend, creating AWS resources if asked.
    /// `settings` shape the embedded queue, and the SQS queue when `--create` makes one.
    pub async fn build(
        choice: &BackendChoice,
        settings: QueueSettings,
    ) -> Result<Self, BackendError> {
        match choice {
            BackendChoice::Embedded => Ok(Self::embedded(settings)),
            BackendChoice::Aws(aws) => Self::aws(aws, settings).await,
        }
    }

    fn embedded(settings: QueueSettings) -> Self {
        let dead_letters = MemoryQueue::new(MemoryQueueConfig {
            visibility_timeout: settings.visibility_timeout,
            max_receive_count: u32::MAX,
        });
        let queue = MemoryQueue::with_dead_letters(
            MemoryQueueConfig {
                visibility_timeout: settings.visibility_timeout,
                max_receive_count: settings.max_receive_count,
            },
            dead_letters,
        );
        let region = switchboard::aws::DEFAULT_REGION;
        Self {
            store: Arc::new(MemoryStore::new()),
            queue,
            queue_arn: queue_arn(DEFAULT_QUEUE_NAME, region),
            region: region.into(),
            store_description: "embedded (in memory)".into(),
            queue_description: format!(
                "embedded (in memory; {}s visibility, dead-letter after {} receives)",
                settings.visibility_timeout.as_secs(),
                settings.max_receive_count
            ),
        }
    }

    async fn aws(aws: &AwsBackend, settings: QueueSettings) -> Result<Self, BackendError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws.sdk);
        let sqs = aws_sdk_sqs::Client::new(&aws.sdk);
        let queue_url = match (&aws.queue_url, aws.create) {
            (Some(url), false) => url.clone(),
            (None, false) => return Err(BackendError::MissingQueue),
            (url, true) => {
                let name = url
                    .as_deref()
                    .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
                    .unwrap_or(DEFAULT_QUEUE_NAME);
                provision::create_table(&dynamodb, &aws.table).await?;
                let urls = provision::create_queue(&sqs, name, settings).await?;
                urls.url
            }
        };
        let region = aws
            .sdk
            .region()
            .map_or(switchboard::aws::DEFAULT_REGION.to_owned(), |r| {
                r.to_string()
            });
        let endpoint = aws
            .sdk
            .endpoint_url()
            .unwrap_or("the SDK's default endpoint");
        Ok(Self {
            store: Arc::new(DynamoStore::new(dynamodb, &aws.table)),
            queue: Arc::new(SqsQueue::new(sqs, &queue_url)),
            queue_arn: queue_arn(&queue_url, &region),
            store_description: format!("DynamoDB table {} at {endpoint}", aws.table),
            queue_description: format!("SQS queue {queue_url}"),
            region,
        })
    }
}
