//! `swapin compare A.json B.json`: the before/after table a kernel patch's
//! commit message would carry.
//!
//! Per row (strategy, mode, threads, device, content, compressor, largest
//! folio order: version 2 files are order 0) present
//! in both files:
//! - the change in us/page, `median(B) / median(A) - 1`, over the
//!   per-repeat figures of each file;
//! - the change in the ratio to bypass, `median(B) - median(A)`, over the
//!   per-repeat paired ratios (each already divided by the bypass run of
//!   its own repeat, so machine phases cancel);
//!
//! each with a 95% percentile-bootstrap confidence interval: both files'
//! per-repeat figures are resampled with replacement, independently,
//! `resamples` times (seeded, so the table is reproducible). A change is
//! significant when its interval excludes zero. With few repeats the
//! interval is wide and its coverage rough (5 repeats: a median takes one
//! of 5 values); 11 or more repeats give a usable interval.

use std::path::Path;

use serde::Deserialize;

use super::cli::CompareArgs;
use super::report::JSON_VERSION;

/// The fields of a row that the comparison reads.
#[derive(Clone, Debug, Deserialize)]
pub struct CmpRow {
    /// Strategy.
    pub strategy: String,
    /// Mode.
    pub mode: String,
    /// Threads.
    pub threads: usize,
    /// Device.
    pub device: String,
    /// Content.
    pub content: String,
    /// Compressor.
    pub compressor: String,
    /// Largest folio order (version 2 files: 0).
    #[serde(default)]
    pub order: u32,
    /// Per-repeat us/page.
    pub per_repeat_us_per_page: Vec<f64>,
    /// Per-repeat ratio to bypass.
    pub per_repeat_ratio: Vec<f64>,
}

impl CmpRow {
    /// The row's name in the table: the strategy, with its largest folio
    /// order when above 0 (`pin-retry o4`).
    pub fn label(&self) -> String {
        if self.order == 0 {
            self.strategy.clone()
        } else {
            format!("{} o{}", self.strategy, self.order)
        }
    }

    fn key(&self) -> (String, String, usize, String, String, String, u32) {
        (
            self.strategy.clone(),
            self.mode.clone(),
            self.threads,
            self.device.clone(),
            self.content.clone(),
            self.compressor.clone(),
            self.order,
        )
    }
}

#[derive(Deserialize)]
struct Doc {
    rows: Vec<CmpRow>,
}

/// Reads a `swapin bench --json` file of [`JSON_VERSION`].
pub fn load(path: &Path) -> Result<Vec<CmpRow>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the text of a `swapin bench --json` file.
pub fn parse(text: &str) -> Result<Vec<CmpRow>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v.is_array() {
        return Err(format!(
            "a version 1 file (a bare list of rows, without per-repeat figures); \
             this swapin compares version {JSON_VERSION}: re-run swapin bench --json"
        ));
    }
    match v.get("version").and_then(|x| x.as_u64()) {
        // Version 2 rows lack the large-folio fields: they are order 0.
        Some(n) if n == u64::from(JSON_VERSION) || n == 2 => {}
        Some(n) => {
            return Err(format!(
                "JSON version {n}; this swapin reads versions 2 and {JSON_VERSION}"
            ));
        }
        None => return Err("not a swapin bench JSON file (no \"version\")".into()),
    }
    let doc: Doc = serde_json::from_value(v).map_err(|e| format!("malformed rows: {e}"))?;
    Ok(doc.rows)
}

/// A small seeded generator for the resampling (splitmix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

fn median_of(v: &[f64]) -> f64 {
    let mut w = v.to_vec();
    crate::median(&mut w)
}

/// A change and its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Change {
    /// The point estimate.
    pub value: f64,
    /// 2.5th percentile of the bootstrap distribution.
    pub lo: f64,
    /// 97.5th percentile.
    pub hi: f64,
}

impl Change {
    /// Whether the interval excludes zero.
    pub fn significant(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

/// The bootstrap of `stat(resample of a, resample of b)`; `None` when a
/// side is empty.
pub fn bootstrap(
    a: &[f64],
    b: &[f64],
    resamples: u32,
    seed: u64,
    stat: impl Fn(f64, f64) -> f64,
) -> Option<Change> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut rng = Rng(seed);
    let mut ra = vec![0.0; a.len()];
    let mut rb = vec![0.0; b.len()];
    let mut dist: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            for x in ra.iter_mut() {
                *x = a[rng.below(a.len())];
            }
            for x in rb.iter_mut() {
                *x = b[rng.below(b.len())];
            }
            stat(crate::median(&mut ra), crate::median(&mut rb))
        })
        .collect();
    dist.sort_by(f64::total_cmp);
    let q = |p: f64| dist[((dist.len() - 1) as f64 * p).round() as usize];
    Some(Change {
        value: stat(median_of(a), median_of(b)),
        lo: q(0.025),
        hi: q(0.975),
    })
}

/// One compared row.
#[derive(Clone, Debug)]
pub struct Compared {
    /// The row (as in B).
    pub row: CmpRow,
    /// Median us/page before and after.
    pub us: (f64, f64),
    /// Relative change in us/page.
    pub us_change: Option<Change>,
    /// Median ratio to bypass before and after.
    pub ratio: Option<(f64, f64)>,
    /// Change in the ratio to bypass.
    pub ratio_change: Option<Change>,
    /// Repeats before and after.
    pub repeats: (usize, usize),
}

/// Compares the rows of `a` and `b` (matched by identity, in `b`'s order);
/// returns the compared rows and the keys found in one file only.
pub fn compare(
    a: &[CmpRow],
    b: &[CmpRow],
    resamples: u32,
    seed: u64,
) -> Result<(Vec<Compared>, Vec<String>), String> {
    let mut out = Vec::new();
    let mut unmatched = Vec::new();
    for rb in b {
        let Some(ra) = a.iter().find(|r| r.key() == rb.key()) else {
            unmatched.push(format!("{} {} (after only)", rb.label(), rb.mode));
            continue;
        };
        if ra.per_repeat_us_per_page.is_empty() || rb.per_repeat_us_per_page.is_empty() {
            return Err(format!("{} {}: no per-repeat figures", rb.label(), rb.mode));
        }
        let us_change = bootstrap(
            &ra.per_repeat_us_per_page,
            &rb.per_repeat_us_per_page,
            resamples,
            seed,
            |x, y| y / x - 1.0,
        );
        let ratio_change = bootstrap(
            &ra.per_repeat_ratio,
            &rb.per_repeat_ratio,
            resamples,
            seed ^ 1,
            |x, y| y - x,
        );
        let ratio =
            (!ra.per_repeat_ratio.is_empty() && !rb.per_repeat_ratio.is_empty()).then(|| {
                (
                    median_of(&ra.per_repeat_ratio),
                    median_of(&rb.per_repeat_ratio),
                )
            });
        out.push(Compared {
            us: (
                median_of(&ra.per_repeat_us_per_page),
                median_of(&rb.per_repeat_us_per_page),
            ),
            us_change,
            ratio,
            ratio_change,
            repeats: (
                ra.per_repeat_us_per_page.len(),
                rb.per_repeat_us_per_page.len(),
            ),
            row: rb.clone(),
        });
    }
    for ra in a {
        if !b.iter().any(|r| r.key() == ra.key()) {
            unmatched.push(format!("{} {} (before only)", ra.label(), ra.mode));
        }
    }
    if out.is_empty() {
        return Err("no row is in both files (same strategy, mode, threads, device, content and compressor)".into());
    }
    Ok((out, unmatched))
}

/// The text table.
pub fn table(rows: &[Compared]) -> String {
    use std::fmt::Write;
    let sig = |c: &Option<Change>| match c {
        Some(c) if c.significant() => "yes",
        Some(_) => "no",
        None => "-",
    };
    let mut s = format!(
        "{:<16} {:<8} {:>5} {:>8} {:>8} {:>26} {:>4} {:>6} {:>6} {:>28} {:>4}\n",
        "strategy",
        "mode",
        "reps",
        "A us/pg",
        "B us/pg",
        "us/pg change [95% CI]",
        "sig",
        "A rat",
        "B rat",
        "ratio change [95% CI]",
        "sig"
    );
    for c in rows {
        let us = c.us_change.map_or_else(
            || "-".into(),
            |x| {
                format!(
                    "{:+.1}% [{:+.1}, {:+.1}]",
                    100.0 * x.value,
                    100.0 * x.lo,
                    100.0 * x.hi
                )
            },
        );
        let rc = c.ratio_change.map_or_else(
            || "-".into(),
            |x| format!("{:+.3} [{:+.3}, {:+.3}]", x.value, x.lo, x.hi),
        );
        let (ra, rb) = c.ratio.map_or_else(
            || ("-".to_string(), "-".to_string()),
            |(a, b)| (format!("{a:.3}"), format!("{b:.3}")),
        );
        let _ = writeln!(
            s,
            "{:<16} {:<8} {:>5} {:>8.3} {:>8.3} {:>26} {:>4} {:>6} {:>6} {:>28} {:>4}",
            c.row.label(),
            c.row.mode,
            format!("{}/{}", c.repeats.0, c.repeats.1),
            c.us.0,
            c.us.1,
            us,
            sig(&c.us_change),
            ra,
            rb,
            rc,
            sig(&c.ratio_change),
        );
    }
    s
}

/// `swapin compare`.
pub fn run(a: &CompareArgs) -> Result<(), String> {
    let before = load(&a.before)?;
    let after = load(&a.after)?;
    let (rows, unmatched) = compare(&before, &after, a.resamples, a.seed)?;
    println!(
        "swapin compare: A = {}, B = {}; medians over the repeats; 95% percentile bootstrap, {} resamples; sig: the interval excludes 0",
        a.before.display(),
        a.after.display(),
        a.resamples
    );
    print!("{}", table(&rows));
    if !unmatched.is_empty() {
        println!("in one file only: {}", unmatched.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(strategy: &str, us: &[f64], ratio: &[f64]) -> CmpRow {
        CmpRow {
            strategy: strategy.into(),
            mode: "same".into(),
            threads: 2,
            device: "zram".into(),
            content: "zero-tail".into(),
            compressor: "lz4".into(),
            order: 0,
            per_repeat_us_per_page: us.to_vec(),
            per_repeat_ratio: ratio.to_vec(),
        }
    }

    #[test]
    fn a_clear_change_is_significant_and_noise_is_not() {
        let a = [row(
            "swapcache",
            &[
                1.00, 1.01, 0.99, 1.02, 1.00, 1.01, 0.99, 1.00, 1.01, 1.00, 0.99,
            ],
            &[
                1.20, 1.21, 1.19, 1.20, 1.22, 1.20, 1.19, 1.21, 1.20, 1.20, 1.21,
            ],
        )];
        let b = [row(
            "swapcache",
            &[
                0.80, 0.81, 0.79, 0.80, 0.82, 0.80, 0.81, 0.79, 0.80, 0.81, 0.80,
            ],
            &[
                1.20, 1.19, 1.21, 1.20, 1.20, 1.22, 1.19, 1.21, 1.20, 1.20, 1.21,
            ],
        )];
        let (rows, unmatched) = compare(&a, &b, 2000, 7).unwrap();
        assert!(unmatched.is_empty());
        let us = rows[0].us_change.unwrap();
        assert!((us.value + 0.2).abs() < 0.01, "{us:?}");
        assert!(us.significant() && us.hi < -0.15, "{us:?}");
        let r = rows[0].ratio_change.unwrap();
        assert!(!r.significant(), "the ratio did not move: {r:?}");
        let t = table(&rows);
        assert!(
            t.contains("-20.") && t.contains("yes") && t.contains("no"),
            "{t}"
        );
        // Reproducible.
        assert_eq!(
            compare(&a, &b, 2000, 7).unwrap().0[0].us_change,
            rows[0].us_change
        );
    }

    #[test]
    fn unmatched_rows_are_listed_and_no_common_row_is_an_error() {
        let a = [
            row("bypass", &[1.0], &[1.0]),
            row("pin-retry", &[1.0], &[1.0]),
        ];
        let b = [row("bypass", &[1.1], &[1.0])];
        let (rows, unmatched) = compare(&a, &b, 100, 1).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(unmatched, ["pin-retry same (before only)"]);
        let e = compare(&a, &[row("sync-map", &[1.0], &[])], 100, 1).unwrap_err();
        assert!(e.contains("no row is in both"), "{e}");
        let e = compare(&[row("bypass", &[], &[])], &b, 100, 1).unwrap_err();
        assert!(e.contains("no per-repeat"), "{e}");
    }

    #[test]
    fn files_of_another_version_are_refused() {
        let v1 = parse("[{\"strategy\": \"bypass\"}]").unwrap_err();
        assert!(v1.contains("version 1"), "{v1}");
        let v4 = parse("{\"version\": 4, \"rows\": []}").unwrap_err();
        assert!(v4.contains("JSON version 4"), "{v4}");
        // Version 2 (before --orders) and 3 are read; a version 2 row is
        // order 0 and matches an order-0 row of version 3.
        let row = |v: u32, extra: &str| {
            format!(
                "{{\"version\": {v}, \"rows\": [{{\"strategy\": \"bypass\", \"mode\": \"same\", \"threads\": 2, \"device\": \"zram\", \"content\": \"zero-tail\", \"compressor\": \"lz4\", \"per_repeat_us_per_page\": [1.0], \"per_repeat_ratio\": [1.0]{extra}}}]}}"
            )
        };
        let v2 = parse(&row(2, "")).unwrap();
        let v3 = parse(&row(3, ", \"order\": 0")).unwrap();
        assert_eq!(v2[0].key(), v3[0].key());
        let v3_4 = parse(&row(3, ", \"order\": 4")).unwrap();
        assert_ne!(v2[0].key(), v3_4[0].key());
        assert!(
            parse("{\"rows\": []}")
                .unwrap_err()
                .contains("no \"version\"")
        );
        assert!(parse("not json").unwrap_err().contains("not JSON"));
        assert!(
            parse("{\"version\": 2, \"rows\": [{}]}")
                .unwrap_err()
                .contains("malformed")
        );
        assert!(
            load(Path::new("/nonexistent.json"))
                .unwrap_err()
                .contains("/nonexistent.json")
        );
    }
}
