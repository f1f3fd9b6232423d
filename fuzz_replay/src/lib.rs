//! Test support for the library crates: replays a cargo-fuzz target's
//! committed inputs on stable, through the same code the fuzz target runs
//! (each crate's `fuzzing` module). A dev-dependency only: no library
//! depends on it.
//!
//! Inputs are every file under `fuzz/corpus/<target>/` (the committed seed
//! corpus) and `fuzz/regressions/<target>/` (inputs that once failed).
//! Inputs the fuzzer generated locally (40-hex-digit names, ignored by git)
//! are replayed too when `FUZZ_REPLAY_ALL=1`.

use std::path::{Path, PathBuf};

/// The inputs of `target`, in a stable order.
pub fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let all = std::env::var_os("FUZZ_REPLAY_ALL").is_some_and(|v| v == "1");
    let generated = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.len() == 40 && n.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let mut files = Vec::new();
    for (dir, skip_generated) in [("corpus", !all), ("regressions", false)] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .map(|e| e.expect("readable fuzz directory").path())
            .filter(|p| p.is_file() && !(skip_generated && generated(p)))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// Runs `run` on every input of `target`; panics naming the first input
/// that fails, or when the target has no committed input at all.
pub fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no committed inputs for {target}");
    for path in files {
        let data = std::fs::read(&path).expect("readable fuzz input");
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{target}: input {} fails", path.display());
        }
    }
}
