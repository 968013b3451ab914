//! The README's publishing examples for the AWS CLI and Node.js, run as written against a
//! dev server: each code block is read from README.md, only its endpoint is pointed at the
//! server (which listens on a free port rather than 3001), and a WebSocket client must
//! receive exactly what the example publishes. The Python and Rust examples are run by
//! `publish_e2e.rs` and the `Publisher` tests.

#[path = "../../local/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use switchboard_local::dev::{self, DevOptions};
use switchboard_tests::REQUIRE_MOTO;

use support::*;

/// The address every README example uses.
const README_ENDPOINT: &str = "http://127.0.0.1:3001";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first code block after the heading `heading` in README.md.
fn example(heading: &str) -> String {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let section = readme
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no {heading:?}"))
        .1;
    let block = section.split_once("```").expect("a code block").1;
    let body = block.split_once('\n').expect("a fence line").1;
    body.split_once("```")
        .expect("a closing fence")
        .0
        .to_owned()
}

/// `program` if it can run, else `None` with a message, or a failure when the test command
/// (which installs it) is running.
fn tool(program: &str, probe: &[&str]) -> Option<()> {
    let runs = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    match runs {
        true => Some(()),
        false if std::env::var_os(REQUIRE_MOTO).is_some() => {
            panic!("{program} does not run: scripts/test.sh installs it")
        }
        false => {
            eprintln!("skipping README example: {program} does not run (run scripts/test.sh)");
            None
        }
    }
}

/// Runs `script` in bash, in `dir`, with `EXAMPLE` set to `example`, in an environment
/// without AWS configuration, as a newcomer's shell would be.
fn run(script: &str, example: &str, dir: &Path) {
    let ran = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("EXAMPLE", example)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("INTENTS_QUEUE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{stderr}");
}

/// The venv's `aws` when the test command made one, else whatever `aws` is on PATH.
fn aws_cli() -> String {
    let venv = repository().join(".venv/bin/aws");
    if venv.exists() {
        venv.to_string_lossy().into_owned()
    } else {
        "aws".into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_and_node_examples_publish_as_written() {
    let aws = aws_cli();
    let node_modules = repository().join("tests/readme/node_modules/@aws-sdk/client-sqs");
    if tool(&aws, &["--version"]).is_none() || tool("node", &["--version"]).is_none() {
        return;
    }
    assert!(
        node_modules.exists() || std::env::var_os(REQUIRE_MOTO).is_none(),
        "tests/readme has no node_modules: scripts/test.sh runs npm ci there"
    );
    if !node_modules.exists() {
        eprintln!("skipping README example: npm ci --prefix tests/readme first");
        return;
    }

    let server = dev::start(DevOptions {
        port: 0,
        ..DevOptions::default()
    })
    .await
    .unwrap();
    let base = format!("http://{}", server.addr);
    let mut alice = connect(&server.websocket_url).await;
    let auth = json!({"action": "auth", "token": dev_token("alice", None)}).to_string();
    send(&mut alice, &auth).await;
    assert_eq!(next_json(&mut alice).await["success"], true);

    // The README's `export` of local credentials, then each example as written.
    let preamble = example("### Where to publish");
    let cli = example("### AWS CLI").replace(README_ENDPOINT, &base);
    let cli = cli.replacen("aws ", &format!("{aws} "), 1);
    let here = repository();
    run(&format!("{preamble}\n{cli}"), "", &here);
    let published = json!({"text": "hi"});
    assert_eq!(next_json(&mut alice).await, published, "AWS CLI");

    let js = example("### Node.js (AWS SDK v3)").replace(README_ENDPOINT, &base);
    let node = format!("{preamble}\nnode --input-type=module -e \"$EXAMPLE\"");
    run(&node, &js, &here.join("tests/readme"));
    assert_eq!(next_json(&mut alice).await, published, "Node.js");

    server.shutdown().await;
}
