//! Test support shared by Switchboard's suites.
//!
//! [`Backend`] is one store-and-queue pair: embedded in memory, or DynamoDB and SQS on a
//! moto server whose endpoint `scripts/test.sh` exports as `MOTO_ENDPOINT`. Contract tests
//! run the same behaviour against every backend through [`per_backend!`].
//!
//! When moto is not running, moto-backed tests skip with a loud message, unless
//! `SWITCHBOARD_REQUIRE_MOTO` is set (as the test command and CI set it): then a missing
//! moto fails the test, so a skipped AWS-backed test can never pass unnoticed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::SdkConfig;
use switchboard::provision::{self, QueueSettings};
use switchboard::queue::{MemoryQueue, MemoryQueueConfig, SharedQueue, SqsQueue};
use switchboard::store::{DynamoStore, MemoryStore, SharedStore};

/// The variable holding moto's endpoint URL.
pub const MOTO_ENDPOINT: &str = "MOTO_ENDPOINT";
/// When set, a missing moto is a failure instead of a skip.
pub const REQUIRE_MOTO: &str = "SWITCHBOARD_REQUIRE_MOTO";

/// A store and queue pair to run a behaviour against.
pub struct Backend {
    /// `embedded` or `moto`, for assertion messages.
    pub name: &'static str,
    /// The connection store.
    pub store: SharedStore,
    /// The intents queue.
    pub queue: SharedQueue,
    /// The intents queue's dead-letter queue.
    pub dead_letters: SharedQueue,
    /// The AWS resources behind a moto backend.
    pub aws: Option<AwsResources>,
}

/// A moto backend's table and queues, for tests that need the SDK directly.
#[derive(Clone)]
pub struct AwsResources {
    /// SDK configuration pointing at moto.
    pub sdk: SdkConfig,
    /// moto's endpoint URL.
    pub endpoint: String,
    /// The connections table, fresh for this backend.
    pub table: String,
    /// The intents queue URL.
    pub queue_url: String,
    /// The dead-letter queue URL.
    pub dead_letter_url: String,
}

impl Backend {
    /// The embedded store and queue, with the default queue settings.
    pub fn embedded() -> Self {
        Self::embedded_with(QueueSettings::default())
    }

    /// The embedded store and a queue with `settings`.
    pub fn embedded_with(settings: QueueSettings) -> Self {
        let dead_letters = MemoryQueue::new(MemoryQueueConfig {
            visibility_timeout: settings.visibility_timeout,
            max_receive_count: u32::MAX,
        });
        let config = MemoryQueueConfig {
            visibility_timeout: settings.visibility_timeout,
            max_receive_count: settings.max_receive_count,
        };
        Self {
            name: "embedded",
            store: Arc::new(MemoryStore::new()),
            queue: MemoryQueue::with_dead_letters(config, dead_letters.clone()),
            dead_letters,
            aws: None,
        }
    }

    /// DynamoDB and SQS on moto, with a fresh table and queue pair; `None` when moto is
    /// not running and not required.
    pub async fn moto() -> Option<Self> {
        Self::moto_with(QueueSettings::default()).await
    }

    /// Like [`Backend::moto`], with the queue created with `settings`.
    pub async fn moto_with(settings: QueueSettings) -> Option<Self> {
        let endpoint = moto_endpoint()?;
        let sdk = switchboard::aws::for_endpoint(&endpoint).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let suffix = unique_suffix();
        let table = format!("connections-{suffix}");
        provision::create_table(&dynamodb, &table)
            .await
            .expect("create table on moto");
        let urls = provision::create_queue(&sqs, &format!("intents-{suffix}"), settings)
            .await
            .expect("create queues on moto");
        Some(Self {
            name: "moto",
            store: Arc::new(DynamoStore::new(dynamodb, &table)),
            queue: Arc::new(SqsQueue::new(sqs.clone(), &urls.url)),
            dead_letters: Arc::new(SqsQueue::new(sqs, &urls.dead_letter_url)),
            aws: Some(AwsResources {
                sdk,
                endpoint,
                table,
                queue_url: urls.url,
                dead_letter_url: urls.dead_letter_url,
            }),
        })
    }
}

/// Defines one test per backend for each listed case, an `async fn(Backend)` of the
/// calling file: `embedded::case` and `moto::case`, so the test output shows that the
/// moto-backed half ran. A case may name its queue settings first: `[SHORT] case`.
///
/// The moto test skips (or, with `SWITCHBOARD_REQUIRE_MOTO`, fails) as [`Backend::moto`]
/// does.
#[macro_export]
macro_rules! per_backend {
    ($($([$settings:expr])? $case:ident),+ $(,)?) => {
        mod embedded {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let settings = $crate::settings_or_default(None $(.or(Some($settings)))?);
                    super::$case($crate::Backend::embedded_with(settings)).await;
                }
            )+
        }
        mod moto {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let settings = $crate::settings_or_default(None $(.or(Some($settings)))?);
                    if let Some(backend) = $crate::Backend::moto_with(settings).await {
                        super::$case(backend).await;
                    }
                }
            )+
        }
    };
}

/// `settings`, or the default queue settings; for [`per_backend!`].
pub fn settings_or_default(settings: Option<QueueSettings>) -> QueueSettings {
    settings.unwrap_or_default()
}

/// moto's endpoint, or `None` (with a message) when it is not running and not required.
///
/// # Panics
/// When moto is required (`SWITCHBOARD_REQUIRE_MOTO`) but `MOTO_ENDPOINT` is unset.
pub fn moto_endpoint() -> Option<String> {
    match std::env::var(MOTO_ENDPOINT) {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var_os(REQUIRE_MOTO).is_some() => {
            panic!("{REQUIRE_MOTO} is set but {MOTO_ENDPOINT} is not: moto is not running")
        }
        _ => {
            eprintln!("skipping moto-backed case: {MOTO_ENDPOINT} unset (run scripts/test.sh)");
            None
        }
    }
}

/// A name suffix no other test in this run or an earlier one against the same moto uses.
pub fn unique_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{}-{n}", std::process::id(), rand::random::<u32>())
}

/// Installs a test tracing subscriber once; honours `RUST_LOG`.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}
