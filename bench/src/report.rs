//! Figures, their baselines and targets; the printed table and the JSON file.

use serde::Serialize;

/// One measured figure beside the baseline it is judged against.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The scenario number of issue 8.
    pub scenario: u8,
    /// What was measured, in a few words.
    pub name: String,
    /// The measured value, in `unit`.
    pub value: f64,
    /// The unit of `value` (and of the baseline).
    pub unit: &'static str,
    /// The baseline measured in the same run, if the figure has one.
    pub baseline: Option<Baseline>,
    /// How the figure compares with the baseline; its meaning is in `ratio_means`.
    pub ratio: Option<f64>,
    /// What the ratio expresses, e.g. `value / baseline`.
    pub ratio_means: Option<&'static str>,
    /// The target of issue 8 and whether this run met it.
    pub target: Option<Target>,
}

/// The baseline of a figure.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// What the baseline is.
    pub name: String,
    /// Its value, in the figure's unit.
    pub value: f64,
}

/// A target and whether it was met.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// The target as written in the table, e.g. `≥ 0.8× raw`.
    pub text: String,
    /// Whether this run met it.
    pub met: bool,
}

/// A scenario that did not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The scenario number.
    pub scenario: u8,
    /// Why it did not run; includes how to make it run where that is possible.
    pub reason: String,
}

/// Everything one invocation measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// When it ran (UTC, RFC 3339).
    pub date: String,
    /// `full` or `smoke`; smoke figures are too small to judge targets by.
    pub mode: &'static str,
    /// Wall-clock seconds the whole invocation took.
    pub seconds: f64,
    /// The figures, in scenario order.
    pub figures: Vec<Figure>,
    /// Scenarios that did not run.
    pub skipped: Vec<Skipped>,
}

/// The machine a report comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs available.
    pub cores: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub model: String,
}

impl Figure {
    /// A figure without baseline or target.
    pub fn new(scenario: u8, name: impl Into<String>, value: f64, unit: &'static str) -> Self {
        Self {
            scenario,
            name: name.into(),
            value,
            unit,
            baseline: None,
            ratio: None,
            ratio_means: None,
            target: None,
        }
    }

    /// Adds the baseline and the ratio `value / baseline`.
    pub fn against(mut self, name: impl Into<String>, baseline: f64) -> Self {
        self.ratio = Some(ratio(self.value, baseline));
        self.ratio_means = Some("value / baseline");
        self.baseline = Some(Baseline {
            name: name.into(),
            value: baseline,
        });
        self
    }

    /// Adds the baseline and the ratio `baseline / value`: how many times smaller (or
    /// faster, for times) the figure is.
    pub fn against_inverse(mut self, name: impl Into<String>, baseline: f64) -> Self {
        self = self.against(name, baseline);
        self.ratio = Some(ratio(baseline, self.value));
        self.ratio_means = Some("baseline / value");
        self
    }

    /// Adds a target.
    pub fn target(mut self, text: impl Into<String>, met: bool) -> Self {
        self.target = Some(Target {
            text: text.into(),
            met,
        });
        self
    }
}

impl Report {
    /// The table as printed and as pasted into the README (Markdown).
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| # | figure | value | baseline | ratio | target | met? |\n\
             |---|---|---:|---|---:|---|---|\n",
        );
        for f in &self.figures {
            let baseline = f.baseline.as_ref().map_or_else(
                || "—".to_owned(),
                |b| format!("{}: {}", b.name, number(b.value, f.unit)),
            );
            let ratio = f
                .ratio
                .map_or_else(|| "—".to_owned(), |r| format!("{r:.2}"));
            let (target, met) = match &f.target {
                None => ("—".to_owned(), "—"),
                Some(_) if self.mode == "smoke" => (target_text(f), "(smoke)"),
                Some(t) => (target_text(f), if t.met { "yes" } else { "**no**" }),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                f.scenario,
                f.name,
                number(f.value, f.unit),
                baseline,
                ratio,
                target,
                met
            ));
        }
        for s in &self.skipped {
            out.push_str(&format!(
                "| {} | skipped: {} | — | — | — | — | — |\n",
                s.scenario, s.reason
            ));
        }
        out
    }

    /// Targets missed (never in smoke mode, whose sizes are too small to judge).
    pub fn missed(&self) -> Vec<&Figure> {
        if self.mode == "smoke" {
            return Vec::new();
        }
        self.figures
            .iter()
            .filter(|f| f.target.as_ref().is_some_and(|t| !t.met))
            .collect()
    }
}

impl Machine {
    /// This machine.
    pub fn here() -> Self {
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { cores, model }
    }
}

fn target_text(f: &Figure) -> String {
    f.target
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        f64::NAN
    } else {
        numerator / denominator
    }
}

/// A value with its unit, rounded for reading: thousands grouped above 1,000, three
/// significant digits below.
pub fn number(value: f64, unit: &str) -> String {
    let digits = if value.abs() >= 1_000.0 {
        grouped(value.round() as i64)
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    if unit.is_empty() {
        digits
    } else {
        format!("{digits} {unit}")
    }
}

/// A count with thousands grouped: `10,000`.
pub fn count(n: usize) -> String {
    grouped(i64::try_from(n).unwrap_or(i64::MAX))
}

fn grouped(n: i64) -> String {
    let text = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i > 0 && (text.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(number(12_345.6, "posts/s"), "12,346 posts/s");
        assert_eq!(number(123.4, "ms"), "123 ms");
        assert_eq!(number(12.34, "ms"), "12.3 ms");
        assert_eq!(number(1.234, ""), "1.23");
    }

    #[test]
    fn inverse_ratio_says_how_many_times_faster() {
        let f = Figure::new(3, "ours", 2.0, "s").against_inverse("node", 10.0);
        assert_eq!(f.ratio, Some(5.0));
    }

    #[test]
    fn smoke_reports_miss_nothing() {
        let figure = Figure::new(1, "x", 1.0, "").target("≥ 2", false);
        let mut report = Report {
            machine: Machine::here(),
            date: String::new(),
            mode: "smoke",
            seconds: 0.0,
            figures: vec![figure],
            skipped: Vec::new(),
        };
        assert!(report.missed().is_empty());
        report.mode = "full";
        assert_eq!(report.missed().len(), 1);
    }
}
