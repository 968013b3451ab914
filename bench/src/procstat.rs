//! CPU time and resident memory of a process, read from `/proc` (Linux only).
//!
//! `/proc/{pid}/stat` counts user and system time in clock ticks of `USER_HZ`, which the
//! kernel fixes at 100 per second for user space on every architecture we run on; a run
//! of a few CPU-seconds therefore reads to better than one percent. No `unsafe` is needed,
//! unlike `getrusage`.

use std::time::Duration;

use crate::BenchError;

/// Clock ticks per second in `/proc/{pid}/stat`.
const USER_HZ: u64 = 100;

/// CPU time a process has used so far, all threads included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Time in user mode.
    pub user: Duration,
    /// Time in the kernel on the process's behalf.
    pub sys: Duration,
}

impl CpuTime {
    /// User plus system time.
    pub fn total(&self) -> Duration {
        self.user + self.sys
    }

    /// The CPU used between `earlier` and this reading.
    pub fn since(&self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
        }
    }
}

/// CPU time of process `pid`.
pub fn cpu(pid: u32) -> Result<CpuTime, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(BenchError::io(path))?;
    // The command name (field 2) is in parentheses and may hold spaces: count fields
    // from the last ')'. utime and stime are fields 14 and 15 of the whole line.
    let rest = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| BenchError::Failed(format!("/proc/{pid}/stat has no field {index}")))
    };
    Ok(CpuTime {
        user: from_ticks(ticks(11)?),
        sys: from_ticks(ticks(12)?),
    })
}

/// CPU time of this process.
pub fn own_cpu() -> Result<CpuTime, BenchError> {
    cpu(std::process::id())
}

/// Resident set size of process `pid`, in bytes (`VmRSS`).
pub fn rss(pid: u32) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(BenchError::io(path))?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| BenchError::Failed(format!("/proc/{pid}/status has no VmRSS")))
}

fn from_ticks(ticks: u64) -> Duration {
    Duration::from_millis(ticks * 1000 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_cpu_time_and_memory() {
        let spin = (0..2_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b));
        assert!(spin > 0);
        assert!(own_cpu().unwrap().total() <= Duration::from_secs(3_600));
        assert!(rss(std::process::id()).unwrap() > 1024 * 1024);
    }
}
