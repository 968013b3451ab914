//! CloudWatch metrics as Embedded Metric Format (EMF) log lines.
//!
//! In Lambda, a JSON line on stdout in EMF becomes metrics without an API call or an
//! agent. Outside Lambda the lines would only clutter a terminal, so [`Metrics::from_env`]
//! enables them only when `AWS_LAMBDA_FUNCTION_NAME` is set.

use std::io::Write as _;

use serde_json::{Map, Value, json};

/// The CloudWatch namespace every metric goes to.
pub const NAMESPACE: &str = "Switchboard";
/// The dimension every metric carries.
pub const SERVICE_DIMENSION: &str = "Service";
/// Its value.
pub const SERVICE: &str = "switchboard";

/// Metric names, defined once; the CDK dashboard and alarms use the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `$connect` accepted a connection.
    ConnectionsOpened,
    /// A connection authenticated.
    ConnectionsAuthenticated,
    /// A token was refused; emitted with a `Reason` dimension.
    AuthFailures,
    /// Intents the worker finished with (delivered, retried or failed).
    IntentsProcessed,
    /// Frames posted successfully.
    Deliveries,
    /// Rows pruned after `410 Gone`.
    ConnectionsPruned,
    /// Posts answered `429`.
    PostsThrottled,
    /// Posts retried.
    PostRetries,
    /// Intents given up on after the maximum attempts.
    IntentsDeadLettered,
    /// Milliseconds from an intent's enqueue to the end of its processing.
    FanoutLatency,
}

impl Metric {
    /// The CloudWatch metric name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::ConnectionsOpened => "ConnectionsOpened",
            Metric::ConnectionsAuthenticated => "ConnectionsAuthenticated",
            Metric::AuthFailures => "AuthFailures",
            Metric::IntentsProcessed => "IntentsProcessed",
            Metric::Deliveries => "Deliveries",
            Metric::ConnectionsPruned => "ConnectionsPruned",
            Metric::PostsThrottled => "PostsThrottled",
            Metric::PostRetries => "PostRetries",
            Metric::IntentsDeadLettered => "IntentsDeadLettered",
            Metric::FanoutLatency => "FanoutLatency",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Metric::FanoutLatency => "Milliseconds",
            _ => "Count",
        }
    }
}

/// Writes EMF lines to stdout, or nothing when disabled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics {
    enabled: bool,
}

impl Metrics {
    /// Enabled inside Lambda, disabled elsewhere.
    pub fn from_env() -> Self {
        Self {
            enabled: std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some(),
        }
    }

    /// Metrics that are never written.
    pub fn disabled() -> Self {
        Self { enabled: false }
    }

    /// Writes one line carrying every `(metric, value)` pair, skipping zero counts.
    pub fn put(&self, values: &[(Metric, f64)]) {
        if self.enabled {
            if let Some(line) = line(values, None, now_millis()) {
                emit(&line);
            }
        }
    }

    /// Writes one line for `metric` with an extra dimension, such as an auth failure reason.
    pub fn put_with(&self, metric: Metric, value: f64, dimension: (&str, &str)) {
        if self.enabled {
            if let Some(line) = line(&[(metric, value)], Some(dimension), now_millis()) {
                emit(&line);
            }
        }
    }
}

/// The EMF line for `values`, or `None` when every count is zero.
fn line(values: &[(Metric, f64)], extra: Option<(&str, &str)>, timestamp: i64) -> Option<String> {
    let values: Vec<_> = values.iter().filter(|(_, v)| *v != 0.0).collect();
    if values.is_empty() {
        return None;
    }
    let mut dimensions = vec![SERVICE_DIMENSION];
    let mut root = Map::new();
    root.insert(SERVICE_DIMENSION.into(), SERVICE.into());
    if let Some((name, value)) = extra {
        dimensions.push(name);
        root.insert(name.into(), value.into());
    }
    let definitions: Vec<Value> = values
        .iter()
        .map(|(m, _)| json!({"Name": m.name(), "Unit": m.unit()}))
        .collect();
    for (metric, value) in &values {
        root.insert(metric.name().into(), json!(value));
    }
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": definitions,
            }],
        }),
    );
    Some(Value::Object(root).to_string())
}

fn emit(line: &str) {
    // EMF is read from the function's stdout by Lambda itself; a failed write loses only
    // a metric, never a request.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

fn now_millis() -> i64 {
    use crate::clock::Clock as _;
    crate::clock::SystemClock.now_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_valid_emf() {
        let text = line(
            &[(Metric::Deliveries, 3.0), (Metric::PostRetries, 0.0)],
            None,
            42,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Service"], "switchboard");
        assert_eq!(v["Deliveries"], 3.0);
        assert!(v.get("PostRetries").is_none(), "zero counts are left out");
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Switchboard");
        assert_eq!(cw["Dimensions"], json!([["Service"]]));
        assert_eq!(
            cw["Metrics"],
            json!([{"Name": "Deliveries", "Unit": "Count"}])
        );
        assert_eq!(v["_aws"]["Timestamp"], 42);
    }

    #[test]
    fn extra_dimension_is_declared() {
        let text = line(
            &[(Metric::AuthFailures, 1.0)],
            Some(("Reason", "token_expired")),
            1,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Reason"], "token_expired");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Service", "Reason"]])
        );
    }

    #[test]
    fn all_zero_writes_nothing() {
        assert_eq!(line(&[(Metric::Deliveries, 0.0)], None, 1), None);
    }
}
