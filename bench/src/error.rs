//! Why a scenario could not produce its figures.

/// A benchmark failure. Scenarios that cannot run here (no moto, no release build) are
/// skipped with a reason instead, see [`crate::scenarios::Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// An operating-system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A child process misbehaved or answered something unexpected.
    #[error("child process {mode}: {problem}")]
    Child {
        /// The child's mode (`sink`, `echo`, `stack`).
        mode: String,
        /// What went wrong.
        problem: String,
    },
    /// A bounded wait ran out.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Something the scenario needs failed to set up or answered wrongly.
    #[error("{0}")]
    Failed(String),
}

impl BenchError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}
