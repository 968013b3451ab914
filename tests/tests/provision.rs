//! Provisioning for local use and tests, on moto: idempotent, and a second run with other
//! queue settings applies them instead of failing.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use switchboard::connection::{TENANT_INDEX, USER_INDEX, attr};
use switchboard::provision::{self, QueueSettings};
use switchboard_tests::{moto_endpoint, unique_suffix};

#[tokio::test]
async fn table_is_created_once_with_both_indexes_and_ttl() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let sdk = switchboard::aws::for_endpoint(&endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("provision-{}", unique_suffix());

    provision::create_table(&client, &table).await.unwrap();
    provision::create_table(&client, &table)
        .await
        .expect("a second run succeeds");

    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let mut indexes: Vec<String> = described
        .table
        .unwrap()
        .global_secondary_indexes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.index_name)
        .collect();
    indexes.sort();
    assert_eq!(indexes, [TENANT_INDEX, USER_INDEX]);
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name.as_deref(), Some(attr::TTL));
}

#[tokio::test]
async fn queue_created_again_with_other_settings_takes_them() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let sdk = switchboard::aws::for_endpoint(&endpoint).await;
    let client = aws_sdk_sqs::Client::new(&sdk);
    let name = format!("provision-{}", unique_suffix());
    let first = QueueSettings {
        visibility_timeout: Duration::from_secs(30),
        max_receive_count: 5,
    };
    let second = QueueSettings {
        visibility_timeout: Duration::from_secs(45),
        max_receive_count: 3,
    };

    let a = provision::create_queue(&client, &name, first)
        .await
        .unwrap();
    let b = provision::create_queue(&client, &name, second)
        .await
        .expect("a second run with other settings succeeds");
    assert_eq!(a, b);

    let attributes = client
        .get_queue_attributes()
        .queue_url(&b.url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "45");
    let redrive: serde_json::Value =
        serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["maxReceiveCount"].as_u64(), Some(3));
}
