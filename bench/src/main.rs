//! `switchboard-bench`: runs the benchmarks of issue 8 and prints the table.
//!
//! ```text
//! switchboard-bench <scenario>|all [--smoke] [--json out.json]
//! ```
//!
//! The same binary also serves as its own child processes (`child sink|echo|stack`), so
//! servers under measurement run apart from the clients measuring them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchboard_bench::scale::Scale;
use switchboard_bench::scenarios::{self, ALL};
use switchboard_bench::stack::StackOptions;
use switchboard_bench::{BenchError, echo, sink, stack};

/// Switchboard's benchmarks: every figure beside a baseline measured in the same run.
#[derive(Debug, Parser)]
#[command(args_conflicts_with_subcommands = true, after_help = scenario_help())]
struct Cli {
    /// `all`, or one scenario by name or number (see below).
    scenario: Option<String>,
    /// Tiny sizes that only prove every scenario works; finishes in seconds.
    #[arg(long)]
    smoke: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(subcommand)]
    child: Option<Role>,
}

/// Child-process roles; started by the benchmark itself, not by hand.
#[derive(Debug, Subcommand)]
enum Role {
    #[command(hide = true)]
    Child {
        /// `sink`, `echo` or `stack`.
        mode: String,
        /// Mode-specific settings.
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("switchboard-bench: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Ten thousand sockets per side need more than the common soft limit of 1,024.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("switchboard-bench: raising the open-file limit: {e}");
    }
    let result = match cli.child {
        Some(Role::Child { mode, args }) => runtime.block_on(child(&mode, &args)),
        None => runtime.block_on(bench(cli.scenario.as_deref(), cli.smoke, cli.json)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchboard-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(
    selector: Option<&str>,
    smoke: bool,
    json: Option<PathBuf>,
) -> Result<ExitCode, BenchError> {
    let selector = selector.unwrap_or("all");
    let Some(selected) = scenarios::select(selector) else {
        eprintln!(
            "switchboard-bench: no scenario {selector:?}\n{}",
            scenario_help()
        );
        return Ok(ExitCode::from(2));
    };
    let scale = if smoke { Scale::smoke() } else { Scale::full() };
    let report = scenarios::run(&selected, scale).await;

    println!(
        "\n{} ({} cores), {}, {} mode, {:.0} s\n",
        report.machine.model, report.machine.cores, report.date, report.mode, report.seconds
    );
    println!("{}", report.table());
    for figure in report.missed() {
        println!(
            "target missed: scenario {}: {}",
            figure.scenario, figure.name
        );
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| BenchError::Failed(format!("report as JSON: {e}")))?;
        std::fs::write(&path, text).map_err(BenchError::io(path.display().to_string()))?;
    }
    // A smoke run fails when a scenario failed outright, so CI notices a broken benchmark;
    // scenarios skipped for a missing tool do not fail it.
    let broken = report
        .skipped
        .iter()
        .any(|s| s.reason.starts_with("failed"));
    Ok(if broken {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn child(mode: &str, args: &[String]) -> Result<ExitCode, BenchError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match mode {
        "sink" => sink::run_child().await?,
        "echo" => echo::run_child().await?,
        "stack" => stack::run_child(StackOptions::from_args(args)?).await?,
        other => return Err(BenchError::Failed(format!("no child mode {other:?}"))),
    }
    Ok(ExitCode::SUCCESS)
}

fn scenario_help() -> String {
    let mut text = String::from("Scenarios:\n");
    for s in ALL {
        text.push_str(&format!("  {} {:<15} {}\n", s.number, s.name, s.about));
    }
    text.push_str("  8 cpu             CPU per delivery; runs scenario 1\n");
    text
}
