//! Peak resident set size from `/proc/self/status` (`VmHWM`).
//!
//! `VmHWM` is process-wide and only grows, so by itself it would give every
//! row the peak of the largest run so far. Writing `5` to
//! `/proc/self/clear_refs` (Linux 4.0+) resets it to the current RSS; the
//! tool does that before each run, so each row's peak is its own (the
//! memory of earlier runs has been returned by then: frame pools and device
//! tables are large allocations, which the allocator unmaps on free). When
//! the reset is refused the figure is the process-wide peak, and the rows
//! say so.

use std::fs;

/// Whether a peak figure covers one run or the whole process so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RssScope {
    /// `VmHWM` was reset before the run.
    PerRun,
    /// The reset failed: the process-wide, monotone peak.
    Process,
}

/// Resets `VmHWM` to the current RSS; returns whether the kernel took it.
pub fn reset_peak() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `VmHWM` in KiB, if `/proc` has it.
pub fn peak_kib() -> Option<u64> {
    parse_status_kib(&fs::read_to_string("/proc/self/status").ok()?, "VmHWM:")
}

/// The value in KiB of the `key` line (e.g. `VmHWM:`) of a
/// `/proc/PID/status` text.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        let s = "Name:\tswapin\nVmPeak:\t  999 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_status_kib(s, "VmHWM:"), Some(12345));
        assert_eq!(parse_status_kib(s, "VmSwap:"), None);
    }

    #[test]
    fn reads_own_peak() {
        if cfg!(target_os = "linux") {
            assert!(peak_kib().is_some_and(|k| k > 0));
        }
    }
}
