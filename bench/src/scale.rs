//! How large each scenario runs. Full sizes are those of issue 8; smoke sizes only prove
//! that every scenario still works, in seconds, even in a debug build.

/// Sizes and repetitions of every scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Whether this is the smoke scale (targets are not judged).
    pub smoke: bool,
    /// Scenario 1: rows the worker posts to per round against the sink.
    pub fanout_rows: usize,
    /// Scenario 1: rounds of worker and raw loop, interleaved; the median is reported.
    pub fanout_rounds: usize,
    /// Scenario 1: real WebSocket clients receiving from the emulator.
    pub emulator_clients: usize,
    /// Scenario 1: broadcasts to those clients.
    pub emulator_rounds: usize,
    /// Scenario 2: audiences of real WebSocket connections.
    pub broadcast_sockets: [usize; 2],
    /// Scenario 2: audience posted to the counting sink.
    pub broadcast_sink: usize,
    /// Scenario 3: rows in the DynamoDB table.
    pub pattern_rows: usize,
    /// Scenario 4: starts per binary; the median is reported.
    pub cold_starts: usize,
    /// Scenario 5: idle connections at the two measuring points.
    pub idle_connections: [usize; 2],
    /// Scenario 6: connections opened.
    pub connects: usize,
    /// Scenario 7: latency samples, for ours and for the echo.
    pub latency_samples: usize,
}

impl Scale {
    /// The sizes of issue 8.
    pub fn full() -> Self {
        Self {
            smoke: false,
            fanout_rows: 20_000,
            fanout_rounds: 3,
            emulator_clients: 1_000,
            emulator_rounds: 10,
            broadcast_sockets: [1_000, 10_000],
            broadcast_sink: 50_000,
            pattern_rows: 10_000,
            cold_starts: 11,
            idle_connections: [1_000, 10_000],
            connects: 5_000,
            latency_samples: 1_000,
        }
    }

    /// Tiny sizes, for CI.
    pub fn smoke() -> Self {
        Self {
            smoke: true,
            fanout_rows: 300,
            fanout_rounds: 1,
            emulator_clients: 20,
            emulator_rounds: 2,
            broadcast_sockets: [20, 50],
            broadcast_sink: 300,
            pattern_rows: 50,
            cold_starts: 2,
            idle_connections: [20, 60],
            connects: 50,
            latency_samples: 20,
        }
    }
}
