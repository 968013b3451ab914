//! The cold-start baseline: the smallest useful `lambda_runtime` function, built with the
//! workspace's release profile like the handlers, so the difference is ours alone.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
