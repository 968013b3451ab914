//! A moto server on a free loopback port, from the virtual environment the test command
//! installs (`scripts/test.sh` puts it in `.venv`). Stopped when dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::BenchError;

/// How long moto may take to answer after start.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// A running moto server.
pub struct Moto {
    _process: Child,
    endpoint: String,
}

impl Moto {
    /// Where the test command installs moto: `.venv/bin/moto_server` at the workspace root.
    pub fn binary() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server")
    }

    /// Starts moto; `Ok(None)` when it is not installed.
    pub async fn start() -> Result<Option<Self>, BenchError> {
        let binary = Self::binary();
        if !binary.exists() {
            return Ok(None);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(BenchError::io("finding a free port"))?
            .port();
        let process = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io(format!("starting {}", binary.display())))?;
        let moto = Self {
            _process: process,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let give_up = tokio::time::Instant::now() + START_PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if tokio::time::Instant::now() >= give_up {
                return Err(BenchError::Timeout(format!("moto on port {port}")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Some(moto))
    }

    /// `http://127.0.0.1:{port}`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}
