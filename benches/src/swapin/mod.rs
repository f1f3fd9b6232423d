//! The `swapin` tool: the seed-004 measurement (swap in 10 GiB out of
//! 32 GiB on zram) mirrored on the `fault_path` model, and the
//! swap-stress-race harness across strategies.
//!
//! ```text
//!   swapin bench   for each strategy × mode (same | disjoint):
//!                    build a System (zram | ramdisk | zswap over a ramdisk)
//!                    populate P pages (chunked) and page them all out
//!                    fault the first N back in on T threads, timing each
//!                    access (hdrhistogram)
//!                    verify word 0 (loss) and word 1 (misload) of the N
//!                    pages, and the slot/frame accounting
//!                  print a table, write JSON (--json) and an SVG plot (--svg)
//!   swapin race    fault_path::harness::run_race per strategy and seed
//!   swapin compare two bench JSON files: per row the change, with a
//!                  bootstrap confidence interval
//!   swapin capture a process's private anonymous pages into a corpus
//!   swapin scale   bench per thread count: pages/s and ratio to bypass
//!   swapin codecs  ratio, same-filled share, compress/decompress time per
//!                  content and compressor
//! ```
//!
//! Kernel anchor (DESIGN.md section 6, seed 004): Before (bypass) 10934698
//! us, After (pin) 11157121 us, Non-direct (swap cache) 13155355 us for
//! 2621440 pages: 4.17, 4.26 and 5.02 us per page.

pub mod bench;
pub mod capture;
pub mod cli;
pub mod codecs;
pub mod compare;
pub mod content;
pub mod race;
pub mod report;
pub mod rss;
pub mod scale;
pub mod svg;
