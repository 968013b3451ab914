//! The scenarios of issue 8, one module each, and how they are selected and run.
//!
//! Each scenario is self-contained: it starts the servers it needs, measures its baseline
//! in the same run, and stops everything before returning, so any one can run alone.

pub mod broadcast;
pub mod cold_start;
pub mod common_pattern;
pub mod connect_rate;
pub mod fanout_rate;
pub mod latency;
pub mod memory;

use std::time::Instant;

use crate::BenchError;
use crate::report::{Figure, Machine, Report, Skipped};
use crate::scale::Scale;

/// What a scenario produced.
#[derive(Debug)]
pub enum Outcome {
    /// Its figures.
    Figures(Vec<Figure>),
    /// It cannot run here; the reason says what is missing and how to get it.
    Skipped(String),
}

/// A scenario: its number, its name on the command line, and what it measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// The number in issue 8.
    pub number: u8,
    /// The name to select it by.
    pub name: &'static str,
    /// What it measures, for `--help` and errors.
    pub about: &'static str,
}

/// Every scenario in order. Scenario 8 (CPU per delivery) is measured by scenario 1.
pub const ALL: [Scenario; 7] = [
    Scenario {
        number: 1,
        name: "fanout-rate",
        about: "posts/s of the worker vs a raw HTTP loop; also CPU per delivery (8)",
    },
    Scenario {
        number: 2,
        name: "broadcast",
        about: "time from enqueue to last frame, vs N / raw rate",
    },
    Scenario {
        number: 3,
        name: "common-pattern",
        about: "Node.js Scan + Promise.all side by side with ours, on moto",
    },
    Scenario {
        number: 4,
        name: "cold-start",
        about: "exec to first runtime API request, vs hello-world Lambda; sizes",
    },
    Scenario {
        number: 5,
        name: "memory",
        about: "emulator RSS per idle authenticated connection, vs echo server",
    },
    Scenario {
        number: 6,
        name: "connect-rate",
        about: "$connect handshakes/s through the emulator, vs echo server",
    },
    Scenario {
        number: 7,
        name: "latency",
        about: "publish-to-frame p50/p99, vs WebSocket echo round trip",
    },
];

/// The scenarios `selector` names: `all`, a name, or a number (8 selects scenario 1).
pub fn select(selector: &str) -> Option<Vec<Scenario>> {
    if selector == "all" {
        return Some(ALL.to_vec());
    }
    let wanted = match selector {
        "8" | "cpu" => "1",
        other => other,
    };
    ALL.iter()
        .find(|s| s.name == wanted || s.number.to_string() == wanted)
        .map(|s| vec![*s])
}

/// Runs `scenarios` one after another at `scale` and collects the report. A scenario
/// that fails is reported as skipped with its error, and the others still run.
pub async fn run(scenarios: &[Scenario], scale: Scale) -> Report {
    let started = Instant::now();
    let mut figures = Vec::new();
    let mut skipped = Vec::new();
    for scenario in scenarios {
        eprintln!("scenario {} ({}): running", scenario.number, scenario.name);
        let begun = Instant::now();
        let outcome = match run_one(scenario.number, scale).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Skipped(format!("failed: {e}")),
        };
        let seconds = begun.elapsed().as_secs_f64();
        match outcome {
            Outcome::Figures(mut found) => {
                eprintln!("scenario {}: done in {seconds:.1} s", scenario.number);
                figures.append(&mut found);
            }
            Outcome::Skipped(reason) => {
                eprintln!("scenario {}: skipped: {reason}", scenario.number);
                skipped.push(Skipped {
                    scenario: scenario.number,
                    reason,
                });
            }
        }
    }
    figures.sort_by_key(|f| f.scenario);
    Report {
        machine: Machine::here(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        mode: if scale.smoke { "smoke" } else { "full" },
        seconds: started.elapsed().as_secs_f64(),
        figures,
        skipped,
    }
}

async fn run_one(number: u8, scale: Scale) -> Result<Outcome, BenchError> {
    match number {
        1 => fanout_rate::run(scale).await,
        2 => broadcast::run(scale).await,
        3 => common_pattern::run(scale).await,
        4 => cold_start::run(scale).await,
        5 => memory::run(scale).await,
        6 => connect_rate::run(scale).await,
        7 => latency::run(scale).await,
        other => Err(BenchError::Failed(format!("no scenario {other}"))),
    }
}

/// The median of `values`; 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile (0 to 100) of `values`, nearest rank; 0 when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 50.0), 50.0);
        assert_eq!(percentile(&hundred, 99.0), 99.0);
    }

    #[test]
    fn selectors_name_scenarios() {
        assert_eq!(select("all").unwrap().len(), 7);
        assert_eq!(select("cpu").unwrap()[0].number, 1);
        assert_eq!(select("latency").unwrap()[0].number, 7);
        assert_eq!(select("4").unwrap()[0].name, "cold-start");
        assert!(select("nine").is_none());
    }
}
