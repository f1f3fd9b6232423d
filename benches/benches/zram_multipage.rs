//! zram multi-page compression (Tangquan Zheng / Barry Song, 2024 RFC,
//! `ZSMALLOC_MULTI_PAGES_ORDER`): stored bytes and compress / decompress
//! time per MiB at 4 KiB against 64 KiB granularity, through the model's
//! [`Zram`] device, per content class and compressor, beside the RFC's
//! figures.
//!
//! Run: `cargo bench -p benches --bench zram_multipage` (about a minute;
//! `ZRAM_MP_MIB=N` sets the MiB per content, default 16; `ZRAM_MP_ROUNDS`
//! the paired rounds, default 7). Not a criterion group: the two
//! granularities are measured in alternating order, round by round, on the
//! same pages, and the medians are printed as a Markdown table.
//!
//! Each round writes the pages to a fresh device in 64 KiB runs
//! (`write_run`, as a 64 KiB folio's page-out), reads them back in 64 KiB
//! runs (`read_run`, a 64 KiB swap-in), and reads one page out of each 64
//! KiB run (`read`, an order-0 swap-in of one page: at 64 KiB granularity
//! it decompresses the whole object). Compressors: lz4 (the project's
//! default), zstd at level 3 (the RFC's compressor and zram's default
//! level) and deflate (the best ratio at 4 KiB in `swapin codecs`).

use std::time::{Duration, Instant};

use benches::swapin::content::Content;
use fault_path::device::{SwapDevice, Zram};
use zswap_tree::{Backend, PAGE_SIZE, Page};

/// Pages per run: a 64 KiB folio.
const RUN: usize = 16;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("{name}={v:?} is not a number; using {default}");
            default
        }),
        Err(_) => default,
    }
}

/// One granularity's figures for one round.
#[derive(Clone, Copy, Default)]
struct Round {
    stored: u64,
    compress: Duration,
    decompress: Duration,
    one_page: Duration,
}

fn round(pages: &[Page], backend: Backend, order: u32) -> Round {
    let dev = Zram::new(pages.len() as u64, backend.compressor())
        .multi_pages(order)
        .expect("order 0 and 4 are valid");
    let t = Instant::now();
    for (i, run) in pages.chunks_exact(RUN).enumerate() {
        dev.write_run((i * RUN) as u64, run).expect("write");
    }
    let compress = t.elapsed();
    let mut back = vec![[0u8; PAGE_SIZE]; RUN];
    let t = Instant::now();
    for i in 0..pages.len() / RUN {
        dev.read_run((i * RUN) as u64, &mut back).expect("read");
        std::hint::black_box(&back);
    }
    let decompress = t.elapsed();
    // Check the last run read back (outside the timing).
    assert!(
        back[..] == pages[pages.len() - RUN..],
        "{backend:?} order {order}"
    );
    let mut one = [0u8; PAGE_SIZE];
    let t = Instant::now();
    for i in 0..pages.len() / RUN {
        dev.read((i * RUN + 5) as u64, &mut one).expect("read");
        std::hint::black_box(&one);
    }
    let one_page = t.elapsed() / (pages.len() / RUN) as u32;
    Round {
        stored: dev.stored_bytes(),
        compress,
        decompress,
        one_page,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let mib = env_usize("ZRAM_MP_MIB", 16).max(1);
    let rounds = env_usize("ZRAM_MP_ROUNDS", 7).max(1);
    let n = mib * 256;
    let contents = Content::defaults().expect("the shipped corpus loads");
    let backends = [Backend::Lz4, Backend::Zstd(3), Backend::Deflate];
    println!(
        "zram multi-page compression: {mib} MiB per content, {rounds} paired rounds, medians\n"
    );
    println!(
        "| content | compressor | granularity | stored MiB | ratio | compress ms/MiB | \
         decompress ms/MiB | 4 KiB read us | decompress 4K/64K |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for content in &contents {
        let pages: Vec<Page> = (0..n)
            .map(|v| {
                let mut p = [0u8; PAGE_SIZE];
                content.fill(1, v, &mut p);
                p
            })
            .collect();
        for b in backends {
            let mut by = [Vec::new(), Vec::new()];
            for r in 0..rounds {
                // Alternate which granularity goes first.
                let order = if r % 2 == 0 { [0, 4] } else { [4, 0] };
                for o in order {
                    by[(o / 4) as usize].push(round(&pages, b, o));
                }
            }
            let dec: Vec<Duration> = by
                .iter()
                .map(|rs| median(rs.iter().map(|r| r.decompress).collect()))
                .collect();
            for (g, rs) in by.iter().enumerate() {
                let stored = rs[0].stored;
                let per_mib = |d: Duration| d.as_secs_f64() * 1e3 / mib as f64;
                let comp = median(rs.iter().map(|r| r.compress).collect());
                let one = median(rs.iter().map(|r| r.one_page).collect());
                let ratio = (n * PAGE_SIZE) as f64 / stored.max(1) as f64;
                let speedup = if g == 1 {
                    format!("{:.2}x", dec[0].as_secs_f64() / dec[1].as_secs_f64())
                } else {
                    String::new()
                };
                println!(
                    "| {} | {} | {} | {:.2} | {:.2} | {:.3} | {:.3} | {:.2} | {} |",
                    content.name(),
                    b.label(),
                    if g == 0 { "4 KiB" } else { "64 KiB" },
                    stored as f64 / (1 << 20) as f64,
                    ratio,
                    per_mib(comp),
                    per_mib(dec[g]),
                    one.as_secs_f64() * 1e6,
                    speedup,
                );
            }
        }
    }
    println!(
        "\nRFC (1000 MiB of Android anonymous pages, zstd): 4 KiB 246.9 MB in 50.26 s \
         (ratio 4.25), 64 KiB 199.8 MB in 18.33 s (ratio 5.25): 2.74x less time."
    );
}
