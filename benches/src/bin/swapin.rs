//! `swapin`: the seed-004 swap-in measurement (10 GiB from 32 GiB on zram,
//! at a scale that fits) and the swap-stress-race harness, per strategy.
//!
//! ```text
//! cargo run --release --bin swapin                     # = bench with its defaults
//! cargo run --release -p benches --bin swapin -- bench [--strategies a,b] [--threads T]
//!     [--content zero-tail|text|half-random|random] [--device zram|ramdisk|zswap]
//!     [--scale 1/32|full|1/N] [--modes same,disjoint] [--json PATH] [--svg PATH]
//! cargo run --release -p benches --bin swapin -- race [--rounds R] [--threads W]
//!     [--delay US] [--seed S] [--seeds N] [--device ...] [--zswap exclusive|exclusive-if-cached]
//!     [--orders 0,2,4] [--large-bug NAME] [--content ...] [--zap-pages N] [--zswap-pool BYTES]
//! swapin soak [race options]                           # 10,000 rounds, every fixed strategy
//! swapin compare BEFORE.json AFTER.json
//! swapin capture (--pid PID | --self) [--max MiB] -o FILE
//! swapin scale --threads 1,2,4 [bench options]
//! swapin codecs [--compressors lz4,zstd:3,...] [--contents text,real,corpus:FILE]
//! ```
//!
//! See [`benches::swapin`] for what each step does.

use std::process::ExitCode;

use benches::swapin::cli::{Cli, Command};
use clap::Parser;

fn main() -> ExitCode {
    let result = match &Cli::parse().command() {
        Command::Bench(a) => benches::swapin::bench::run(a).map(drop),
        Command::Race(a) => benches::swapin::race::run(a).map(drop),
        Command::Soak(a) => benches::swapin::race::soak(&a.clone().soak()).map(drop),
        Command::Profile(a) => benches::swapin::bench::profile(a),
        Command::Compare(a) => benches::swapin::compare::run(a),
        Command::Capture(a) => benches::swapin::capture::run(a),
        Command::Scale(a) => benches::swapin::scale::run(a).map(drop),
        Command::Codecs(a) => benches::swapin::codecs::run(a).map(drop),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swapin: {e}");
            ExitCode::FAILURE
        }
    }
}
