//! `switchboard dev` and `switchboard publish` as processes, as a user runs them: publish
//! reaches a WebSocket client; malformed intents sent by a plain SQS client end in the
//! dead-letter queue with a log line naming the reason, and never stop the next intent.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// A `switchboard dev` child process and everything it has logged so far.
struct DevProcess {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl DevProcess {
    fn start(extra: &[&str]) -> Self {
        Self::start_with(extra, &[])
    }

    fn start_with(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .args(["dev", "--port", "0"])
            .args(extra)
            .envs(env.iter().copied())
            .env_remove("JWT_SECRET")
            .env_remove("CONNECTIONS_TABLE")
            .env_remove("INTENTS_QUEUE_URL")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn switchboard dev");

        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });

        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut port = None;
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(url) = line.trim().strip_prefix("WebSocket") {
                let url = url.trim();
                let host = url.trim_start_matches("ws://").split('/').next().unwrap();
                port = Some(host.rsplit(':').next().unwrap().parse().unwrap());
                break;
            }
        }
        Self {
            child,
            port: port.expect("banner names the WebSocket URL"),
            log,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits for one log line holding every one of `needles`; panics with the log after
    /// `patience`.
    fn wait_for_line(&self, needles: &[&str], patience: Duration) {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            let log = self.log.lock().unwrap();
            if log
                .lines()
                .any(|line| needles.iter().all(|n| line.contains(n)))
            {
                return;
            }
            drop(log);
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no line with {needles:?} in the log:\n{}",
            self.log.lock().unwrap()
        );
    }
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("INTENTS_QUEUE_URL")
        .output()
        .expect("run switchboard")
}

async fn authenticated(dev: &DevProcess, user: &str) -> Client {
    let token = cli(&["token", "--user", user, "--tenant", "acme"]);
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap();
    let mut client = connect(&format!("ws://127.0.0.1:{}/dev", dev.port)).await;
    send(
        &mut client,
        &json!({"action": "auth", "token": token.trim()}).to_string(),
    )
    .await;
    assert_eq!(next_json(&mut client).await["success"], true);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_a_client_and_reports_failures_by_exit_code() {
    let dev = DevProcess::start(&[]);
    let mut alice = authenticated(&dev, "alice").await;

    let sent = cli(&[
        "publish",
        "--dev",
        &dev.url(),
        "--to",
        "user:alice",
        r#"{"text":"hi"}"#,
    ]);
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&sent.stdout).trim().is_empty(),
        "prints the message id"
    );
    assert_eq!(next_text(&mut alice).await, r#"{"text":"hi"}"#);

    let invalid = cli(&[
        "publish",
        "--dev",
        &dev.url(),
        "--to",
        "all",
        "--tenant",
        "acme",
        "1",
    ]);
    assert_eq!(invalid.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(
        stderr.contains("\"tenant\" only applies to a user: target"),
        "{stderr}"
    );

    let nobody = cli(&["publish", "--dev", "http://127.0.0.1:9", "--to", "all", "1"]);
    assert_eq!(nobody.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&nobody.stderr);
    assert!(stderr.contains("no switchboard dev answering"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_intents_are_dead_lettered_with_a_reason_and_do_not_block() {
    let dev = DevProcess::start_with(
        &[
            "--visibility-timeout",
            "2",
            "--function-timeout",
            "2",
            "--max-receives",
            "2",
        ],
        &[("FANOUT_POST_TIMEOUT_MS", "300")],
    );
    let mut alice = authenticated(&dev, "alice").await;

    let sdk = switchboard::aws::for_endpoint(&dev.url()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = sqs
        .get_queue_url()
        .queue_name("switchboard-intents")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mut ids = Vec::new();
    for body in [
        "not json",
        r#"{"to":"room:1","data":1}"#,
        r#"{"to":"user:alice","data":"next"}"#,
    ] {
        let sent = sqs
            .send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
        ids.push(sent.message_id.unwrap());
    }

    assert_eq!(
        next_text(&mut alice).await,
        r#""next""#,
        "the good intent is not held up"
    );
    let patience = Duration::from_secs(15);
    let reasons = ["intent is not valid JSON", r#"invalid target "room:1""#];
    for (id, reason) in ids.iter().zip(reasons) {
        dev.wait_for_line(&[id, "intent refused", reason], patience);
        dev.wait_for_line(&[id, "message dead-lettered"], patience);
    }
    assert_silent(&mut alice, Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_survives_a_reader_that_goes_away_before_the_banner() {
    // `switchboard dev | head -1` closes the pipe early; the banner once panicked on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .args(["dev", "--port", &port.to_string()])
        .env_remove("JWT_SECRET")
        .env_remove("CONNECTIONS_TABLE")
        .env_remove("INTENTS_QUEUE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn switchboard dev");
    drop(child.stdout.take());

    let url = format!("ws://127.0.0.1:{port}/dev");
    let deadline = Instant::now() + PATIENCE;
    let mut client = loop {
        match try_connect(&url).await {
            Ok(client) => break client,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("server never answered: {e}"),
        }
    };
    send(&mut client, r#"{"action":"ping"}"#).await;
    assert_eq!(next_json(&mut client).await["action"], "pong");
    assert!(child.try_wait().unwrap().is_none(), "server exited");
    let _ = child.kill();
    let _ = child.wait();
}
