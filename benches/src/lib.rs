//! Shared helpers for the benchmark suites (and, later, the `swapin` tool).
