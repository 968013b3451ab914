//! Servers as child processes of this binary, driven by lines on stdin and stdout.
//!
//! A server under measurement runs in its own process so that its CPU time and resident
//! memory can be read apart from the clients', and so that each side gets its own file
//! descriptor limit (ten thousand sockets on each end do not fit under one). The child
//! prints `ready <address>` once listening, answers one line per command line, and exits
//! when its stdin closes, so a parent that dies takes its children with it.

use std::future::Future;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout, Command};

use crate::BenchError;
use crate::procstat::{self, CpuTime};

/// How long a child may take to start listening, and to answer one command.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running child server.
pub struct Child {
    mode: String,
    process: tokio::process::Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    pid: u32,
    address: String,
}

impl Child {
    /// Starts `switchboard-bench child <mode> <args>` and waits for its `ready` line.
    pub async fn spawn(mode: &str, args: &[String]) -> Result<Self, BenchError> {
        let exe = std::env::current_exe().map_err(BenchError::io("locating this binary"))?;
        let mut process = Command::new(exe)
            .arg("child")
            .arg(mode)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io(format!("starting child {mode}")))?;
        let failed = |problem: &str| BenchError::Child {
            mode: mode.to_owned(),
            problem: problem.to_owned(),
        };
        let pid = process.id().ok_or_else(|| failed("exited at once"))?;
        let stdin = process.stdin.take().ok_or_else(|| failed("no stdin"))?;
        let stdout = process.stdout.take().ok_or_else(|| failed("no stdout"))?;
        let mut child = Self {
            mode: mode.to_owned(),
            process,
            stdin,
            lines: BufReader::new(stdout).lines(),
            pid,
            address: String::new(),
        };
        let line = child.read_line().await?;
        child.address = line
            .strip_prefix("ready ")
            .ok_or_else(|| failed(&format!("expected `ready`, got {line:?}")))?
            .to_owned();
        Ok(child)
    }

    /// What the child printed after `ready`: the address it listens on.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The child's CPU time so far.
    pub fn cpu(&self) -> Result<CpuTime, BenchError> {
        procstat::cpu(self.pid)
    }

    /// The child's resident memory, in bytes.
    pub fn rss(&self) -> Result<u64, BenchError> {
        procstat::rss(self.pid)
    }

    /// Sends one command line and returns the one-line answer.
    pub async fn ask(&mut self, command: &str) -> Result<String, BenchError> {
        let mut line = command.replace('\n', " ");
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .map_err(BenchError::io(format!("writing to child {}", self.mode)))?;
        self.stdin
            .flush()
            .await
            .map_err(BenchError::io(format!("writing to child {}", self.mode)))?;
        self.read_line().await
    }

    /// Closes stdin and waits briefly for the child to exit; kills it otherwise.
    pub async fn stop(mut self) {
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(5), self.process.wait())
            .await
            .is_err()
        {
            let _ = self.process.kill().await;
        }
    }

    async fn read_line(&mut self) -> Result<String, BenchError> {
        let failed = |problem: String| BenchError::Child {
            mode: self.mode.clone(),
            problem,
        };
        match tokio::time::timeout(PATIENCE, self.lines.next_line()).await {
            Err(_) => Err(BenchError::Timeout(format!(
                "child {} did not answer",
                self.mode
            ))),
            Ok(Err(e)) => Err(failed(format!("reading its output: {e}"))),
            Ok(Ok(None)) => Err(failed("exited".into())),
            Ok(Ok(Some(line))) => Ok(line),
        }
    }
}

/// The child side: prints `ready <address>`, then answers each stdin line with
/// `answer(line)` until stdin closes.
pub async fn serve<F, Fut>(address: &str, mut answer: F) -> Result<(), BenchError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = String>,
{
    let mut stdout = tokio::io::stdout();
    let mut write = async |text: String| {
        let line = format!("{}\n", text.replace('\n', " "));
        stdout.write_all(line.as_bytes()).await?;
        stdout.flush().await
    };
    write(format!("ready {address}"))
        .await
        .map_err(BenchError::io("writing to stdout"))?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(BenchError::io("reading stdin"))?
    {
        let reply = answer(line).await;
        write(reply)
            .await
            .map_err(BenchError::io("writing to stdout"))?;
    }
    Ok(())
}
