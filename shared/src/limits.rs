//! Limits imposed by AWS that shape our own checks. Each is in bytes unless named otherwise.

/// Largest message API Gateway delivers to or accepts from a WebSocket client (128 KB).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Largest single WebSocket frame API Gateway accepts from a client (32 KB); larger closes 1009.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

/// Largest SQS message body. Queues must set `MaximumMessageSize` to this explicitly.
pub const MAX_QUEUE_MESSAGE_BYTES: usize = 1024 * 1024;

/// Entries per SQS `SendMessageBatch` / `ReceiveMessage` call.
pub const QUEUE_BATCH: usize = 10;

/// Longest SQS message delay, in seconds.
pub const MAX_QUEUE_DELAY_SECS: u64 = 900;

/// Items per DynamoDB `BatchWriteItem` call.
pub const STORE_BATCH_WRITE: usize = 25;

/// Longest an API Gateway WebSocket connection may stay idle or open, in seconds (2 hours).
pub const MAX_CONNECTION_SECS: u64 = 7200;
