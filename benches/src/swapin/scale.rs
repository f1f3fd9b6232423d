//! `swapin scale --threads 1,2,4,...`: the bench at each thread count;
//! per strategy, mode and thread count the throughput (pages swapped in
//! per second of swap-in wall time) and the paired ratio to bypass.
//! Thread counts above the CPU count are oversubscribed: the threads
//! share CPUs, and the figures say more about the scheduler than about the
//! swap-in path; the table and the plot mark them.

use std::fmt::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::bench::{self, Plan, Progress};
use super::cli::BenchArgs;

/// The version of the `swapin scale --json` document.
pub const SCALE_JSON_VERSION: u32 = 1;

/// One strategy, mode and thread count.
#[derive(Clone, Debug, Serialize)]
pub struct ScaleRow {
    /// Strategy.
    pub strategy: String,
    /// Mode.
    pub mode: String,
    /// Threads.
    pub threads: usize,
    /// More threads than CPUs.
    pub oversubscribed: bool,
    /// Pages swapped in per second (median-time run).
    pub pages_per_sec: f64,
    /// us per page (median-time run).
    pub us_per_page: f64,
    /// Paired ratio to bypass at this thread count and mode.
    pub ratio_to_bypass: Option<f64>,
    /// Lost increments and misloads, summed over the runs.
    pub data_loss: u64,
    /// Misloaded pages.
    pub misload: u64,
}

#[derive(Serialize)]
struct ScaleJson<'a> {
    version: u32,
    tool: &'static str,
    cpus: usize,
    header: &'a str,
    rows: &'a [ScaleRow],
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The text table.
pub fn table(rows: &[ScaleRow]) -> String {
    let mut s = format!(
        "{:<16} {:<8} {:>7} {:>12} {:>7} {:>6} {:>5} {:>5}  note\n",
        "strategy", "mode", "threads", "pages/s", "us/pg", "ratio", "loss", "misl"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<16} {:<8} {:>7} {:>12.0} {:>7.3} {:>6} {:>5} {:>5}  {}",
            r.strategy,
            r.mode,
            r.threads,
            r.pages_per_sec,
            r.us_per_page,
            r.ratio_to_bypass
                .map_or_else(|| "-".into(), |x| format!("{x:.3}")),
            r.data_loss,
            r.misload,
            if r.oversubscribed {
                "oversubscribed"
            } else {
                ""
            },
        );
    }
    s
}

/// `swapin scale`.
pub fn run(args: &BenchArgs) -> Result<Vec<ScaleRow>, String> {
    let list = args.thread_list()?;
    let strategies = super::cli::strategies_or_all(&args.strategies);
    let ncpu = cpus();
    let plans: Vec<(usize, BenchArgs, Plan)> = list
        .iter()
        .map(|&t| {
            let mut a = args.clone();
            a.threads = vec![t];
            let p = Plan::of(&a);
            (t, a, p)
        })
        .collect();
    if plans.iter().any(|(_, _, p)| p.part == 0) {
        return Err("nothing to swap in".into());
    }
    let head =
        bench::header(&plans[0].1, &plans[0].2).replace(&format!(" {} thread(s),", plans[0].0), "");
    let head = format!(
        "swapin scale: threads {list:?} on {ncpu} CPU(s){}; {}",
        if list.iter().any(|&t| t > ncpu) {
            format!(" (above {ncpu}: oversubscribed)")
        } else {
            String::new()
        },
        head.trim_start_matches("swapin bench: ")
    );
    println!("{head}");
    let total: u64 = plans
        .iter()
        .map(|(_, a, p)| {
            let pass: u64 = a.modes.iter().map(|&m| p.steps(m)).sum();
            pass * (strategies.len() * a.repeat.max(1)) as u64
                + a.modes.first().map_or(0, |&m| p.steps(m)) * a.warmup as u64
        })
        .sum();
    let progress = Progress::new(total, args.quiet);
    let mut rows = Vec::new();
    for (t, a, p) in &plans {
        for r in bench::measure(a, p, &strategies, &progress)? {
            rows.push(ScaleRow {
                strategy: r.strategy,
                mode: r.mode,
                threads: *t,
                oversubscribed: *t > ncpu,
                pages_per_sec: r.pages_swapped_in as f64 / (r.total_us.max(1e-9) / 1e6),
                us_per_page: r.us_per_page,
                ratio_to_bypass: r.ratio_to_bypass,
                data_loss: r.data_loss,
                misload: r.misload,
            });
        }
    }
    progress.finish();
    // Table order: mode, strategy, threads.
    let mut sorted = rows.clone();
    sorted.sort_by_key(|r| {
        (
            args.modes.iter().position(|m| m.name() == r.mode),
            strategies.iter().position(|s| *s == r.strategy),
            r.threads,
        )
    });
    print!("{}", table(&sorted));
    if let Some(path) = &args.json {
        let doc = ScaleJson {
            version: SCALE_JSON_VERSION,
            tool: "swapin scale",
            cpus: ncpu,
            header: &head,
            rows: &sorted,
        };
        bench::write_file(
            path,
            &(serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n"),
        )?;
        println!("json: {}", path.display());
    }
    let svg = match (&args.svg, &args.json) {
        (Some(p), _) => p.clone(),
        (None, Some(j)) => j.with_extension("svg"),
        (None, None) => PathBuf::from("target/swapin-scale.svg"),
    };
    bench::write_file(&svg, &super::svg::render_scale(&sorted, &head, ncpu))?;
    println!("svg: {}", svg.display());
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use super::super::cli::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> BenchArgs {
        let mut v = vec!["swapin", "scale"];
        v.extend_from_slice(extra);
        match Cli::try_parse_from(v).unwrap().command() {
            Command::Scale(a) => a,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn thread_lists() {
        assert_eq!(
            args(&["--threads", "1,2,4"]).thread_list(),
            Ok(vec![1, 2, 4])
        );
        let d = args(&[]).thread_list().unwrap();
        assert_eq!(d[0], 1);
        assert!(d.last().is_some_and(|&t| t >= cpus()));
        assert!(args(&["--threads", "1,0"]).thread_list().is_err());
        for bad in ["", "1,,2", "x"] {
            assert!(
                Cli::try_parse_from(["swapin", "scale", "--threads", bad]).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_tiny_sweep_marks_oversubscription() {
        let n = cpus();
        let over = (2 * n).to_string();
        let dir = std::env::temp_dir().join(format!("swapin-scale-{}", std::process::id()));
        let json = dir.join("s.json");
        let a = args(&[
            "--threads",
            &format!("1,{over}"),
            "--strategies",
            "bypass,pin-retry",
            "--pages",
            "1200",
            "--swapin-pages",
            "600",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ]);
        let rows = run(&a).unwrap();
        assert_eq!(rows.len(), 2 * 2 * 2);
        assert!(rows.iter().all(|r| r.oversubscribed == (r.threads > n)));
        assert!(rows.iter().all(|r| r.pages_per_sec > 0.0));
        assert!(
            rows.iter()
                .filter(|r| r.strategy == "bypass")
                .all(|r| r.ratio_to_bypass == Some(1.0))
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(v["version"], 1);
        let svg = std::fs::read_to_string(json.with_extension("svg")).unwrap();
        assert!(svg.contains("oversubscribed"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
