//! The plots, as hand-written SVG (no plotting dependency to build):
//!
//! - [`render`] (`swapin bench`): first a panel of the ratio to bypass per
//!   strategy, ours per mode beside the kernel's (1.000 / 1.020 / 1.203);
//!   then one latency panel per mode, a group of bars per strategy (p50,
//!   p99, p99.9) on a logarithmic nanosecond axis, the strategy names
//!   slanted so that neighbours never overlap.
//! - [`render_scale`] (`swapin scale`): one panel per mode, pages per
//!   second against threads, a line per strategy; the oversubscribed
//!   thread counts shaded.

use std::fmt::Write;

use super::report::Row;
use super::scale::ScaleRow;

const PANEL_W: f64 = 900.0;
const PANEL_H: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 110.0;
const COLORS: [&str; 3] = ["#4c78a8", "#f58518", "#e45756"];
const LABELS: [&str; 3] = ["p50", "p99", "p99.9"];
/// Line colours of the scale plot and the ratio panel's modes.
const PALETTE: [&str; 10] = [
    "#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6",
    "#9d755d", "#bab0ac",
];
/// Title characters per line: about 7 px a character at 15 px.
const TITLE_CHARS: usize = 110;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Splits `title` into lines of at most `width` characters, at `, ` or
/// `; ` or spaces (a word longer than a line gets a line of its own).
pub fn wrap(title: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in title.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Writes the wrapped title; returns the height it takes.
fn title(s: &mut String, text: &str) -> f64 {
    let lines = wrap(text, TITLE_CHARS);
    for (i, l) in lines.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="15">{}</text>"#,
            PANEL_W / 2.0,
            20.0 + 19.0 * i as f64,
            esc(l)
        );
    }
    12.0 + 19.0 * lines.len() as f64
}

/// Renders `rows` (grouped into panels by mode, in order of appearance) as
/// an SVG document; `title` heads it.
pub fn render(rows: &[Row], title_text: &str) -> String {
    let mut modes: Vec<&str> = Vec::new();
    for r in rows {
        if !modes.contains(&r.mode.as_str()) {
            modes.push(&r.mode);
        }
    }
    let mut body = String::new();
    let head = title(&mut body, title_text);
    let ratio_h = ratio_panel(&mut body, rows, &modes, head + TOP);
    let y_start = head + ratio_h;
    let panel_h = TOP + PANEL_H + BOTTOM;
    let height = y_start + panel_h * modes.len() as f64 + 10.0;
    // One log axis for every panel, so they compare.
    let values = rows
        .iter()
        .flat_map(|r| [r.latency.p50_ns, r.latency.p99_ns, r.latency.p999_ns]);
    let lo = values.clone().filter(|&v| v > 0).min().unwrap_or(1).max(1);
    let hi = values.max().unwrap_or(10).max(lo * 10);
    // 0.9: a value on a decade (100 ns) still gets a visible bar.
    let (dlo, dhi) = (
        (lo as f64 * 0.9).log10().floor(),
        (hi as f64).log10().ceil(),
    );
    for (i, mode) in modes.iter().enumerate() {
        let y0 = y_start + panel_h * i as f64 + TOP;
        panel(&mut body, rows, mode, y0, dlo, dhi);
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{PANEL_W}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
    )
}

/// The ratio panel: one line per strategy, a bar per mode (ours) and one
/// for the kernel where seed 004 has a figure. Returns its height.
fn ratio_panel(s: &mut String, rows: &[Row], modes: &[&str], y0: f64) -> f64 {
    let mut strategies: Vec<&str> = Vec::new();
    for r in rows {
        if !strategies.contains(&r.strategy.as_str()) {
            strategies.push(&r.strategy);
        }
    }
    let label_w = 150.0;
    let x0 = LEFT + label_w;
    let plot_w = PANEL_W - x0 - RIGHT - 60.0;
    let bars = modes.len() + 1;
    let bar_h = 9.0;
    let line_h = bar_h * bars as f64 + 8.0;
    let vmax = rows
        .iter()
        .filter_map(|r| r.ratio_to_bypass)
        .chain(rows.iter().filter_map(|r| r.kernel_ratio))
        .fold(1.3f64, f64::max)
        .min(10.0);
    let x_of = |v: f64| x0 + plot_w * (v.clamp(0.0, vmax) / vmax);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{:.1}" font-size="13">time over bypass's, per strategy: ours per mode beside the kernel's (seed 004: 1.000 / 1.020 / 1.203)</text>"#,
        y0 - 12.0
    );
    let h = line_h * strategies.len() as f64;
    // Grid at 0.5 steps and the 1.0 line.
    let mut g = 0.0;
    while g <= vmax + 1e-9 {
        let x = x_of(g);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{y0:.1}" x2="{x:.1}" y2="{:.1}" stroke="{}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555">{g:.1}</text>"##,
            y0 + h,
            if (g - 1.0).abs() < 1e-9 {
                "#888"
            } else {
                "#e5e5e5"
            },
            y0 + h + 14.0
        );
        g += 0.5;
    }
    for (i, st) in strategies.iter().enumerate() {
        let ly = y0 + line_h * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 8.0,
            ly + line_h / 2.0 + 4.0,
            esc(st)
        );
        let mut entries: Vec<(String, Option<f64>, &str)> = modes
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let r = rows.iter().find(|r| r.strategy == *st && r.mode == *m);
                (
                    format!("ours, {m}"),
                    r.and_then(|r| r.ratio_to_bypass),
                    PALETTE[k % PALETTE.len()],
                )
            })
            .collect();
        let kernel = rows
            .iter()
            .find(|r| r.strategy == *st)
            .and_then(|r| r.kernel_ratio);
        entries.push(("kernel".into(), kernel, "#333"));
        for (k, (what, v, color)) in entries.iter().enumerate() {
            let by = ly + 4.0 + bar_h * k as f64;
            match v {
                Some(v) => {
                    let _ = writeln!(
                        s,
                        r#"<rect x="{x0:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} {what}: {v:.3}</title></rect><text x="{:.1}" y="{:.1}" font-size="9">{v:.3}</text>"#,
                        (x_of(*v) - x0).max(1.0),
                        bar_h - 1.5,
                        esc(st),
                        x_of(*v) + 3.0,
                        by + bar_h - 2.0
                    );
                }
                None if what == "kernel" => {}
                None => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" font-size="9" fill="#888">no bypass row</text>"##,
                        x0 + 3.0,
                        by + bar_h - 2.0
                    );
                }
            }
        }
    }
    // Legend.
    let legend: Vec<(String, &str)> = modes
        .iter()
        .enumerate()
        .map(|(k, m)| (format!("ours, {m}"), PALETTE[k % PALETTE.len()]))
        .chain([("kernel (seed 004)".to_string(), "#333")])
        .collect();
    for (k, (l, c)) in legend.iter().enumerate() {
        let x = LEFT + 130.0 * k as f64;
        let y = y0 + h + 34.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{:.1}" width="10" height="10" fill="{c}"/><text x="{}" y="{y:.1}">{}</text>"#,
            y - 9.0,
            x + 14.0,
            esc(l)
        );
    }
    TOP + h + 48.0
}

fn panel(s: &mut String, rows: &[Row], mode: &str, y0: f64, dlo: f64, dhi: f64) {
    let rows: Vec<&Row> = rows.iter().filter(|r| r.mode == mode).collect();
    let plot_w = PANEL_W - LEFT - RIGHT;
    let y_of = |v: u64| {
        let l = (v.max(1) as f64).log10().clamp(dlo, dhi);
        y0 + PANEL_H * (1.0 - (l - dlo) / (dhi - dlo).max(1.0))
    };
    let first = rows.first();
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{}" font-size="13">mode {} ({} threads, {}, {}); fault latency, ns (log)</text>"#,
        y0 - 10.0,
        esc(mode),
        first.map_or(0, |r| r.threads),
        esc(first.map_or("", |r| r.device.as_str())),
        esc(first.map_or("", |r| r.content.as_str())),
    );
    // Decade grid lines.
    let mut d = dlo;
    while d <= dhi {
        let v = 10f64.powf(d) as u64;
        let y = y_of(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0
        );
        d += 1.0;
    }
    let group = plot_w / rows.len().max(1) as f64;
    let bar = group * 0.8 / 3.0;
    for (i, r) in rows.iter().enumerate() {
        let gx = LEFT + group * i as f64 + group * 0.1;
        let vals = [r.latency.p50_ns, r.latency.p99_ns, r.latency.p999_ns];
        for (k, &v) in vals.iter().enumerate() {
            let (x, y) = (gx + bar * k as f64, y_of(v));
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {} {}: {v} ns</title></rect>"#,
                bar - 1.0,
                (y0 + PANEL_H - y).max(0.0),
                COLORS[k],
                esc(&r.strategy),
                esc(mode),
                LABELS[k],
            );
        }
        let bad = if r.data_loss + r.misload > 0 {
            " (LOSS)"
        } else {
            ""
        };
        // Slanted labels, anchored at their end under the group's centre:
        // neighbours run parallel instead of into each other.
        let (cx, ly) = (gx + group * 0.4, y0 + PANEL_H + 14.0);
        let _ = writeln!(
            s,
            r##"<text x="{cx:.1}" y="{ly:.1}" text-anchor="end" transform="rotate(-35 {cx:.1} {ly:.1})">{}{} <tspan fill="#555">{:.3} us/pg</tspan></text>"##,
            esc(&r.strategy),
            bad,
            r.us_per_page,
        );
    }
    for (k, label) in LABELS.iter().enumerate() {
        let x = PANEL_W - RIGHT - 180.0 + 60.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{}" y="{:.1}">{label}</text>"#,
            y0 - 20.0,
            COLORS[k],
            x + 14.0,
            y0 - 11.0
        );
    }
}

/// The scale plot: a panel per mode, pages per second (linear, from 0)
/// against threads (log 2), one line per strategy; the thread counts
/// above `cpus` shaded as oversubscribed.
pub fn render_scale(rows: &[ScaleRow], title_text: &str, cpus: usize) -> String {
    let mut modes: Vec<&str> = Vec::new();
    let mut strategies: Vec<&str> = Vec::new();
    let mut threads: Vec<usize> = Vec::new();
    for r in rows {
        if !modes.contains(&r.mode.as_str()) {
            modes.push(&r.mode);
        }
        if !strategies.contains(&r.strategy.as_str()) {
            strategies.push(&r.strategy);
        }
        if !threads.contains(&r.threads) {
            threads.push(r.threads);
        }
    }
    threads.sort_unstable();
    let mut body = String::new();
    let head = title(&mut body, title_text);
    let legend_w = 170.0;
    let plot_w = PANEL_W - LEFT - RIGHT - legend_w;
    let panel_h = TOP + PANEL_H + 50.0;
    let height = head + panel_h * modes.len() as f64 + 10.0;
    let (tmin, tmax) = (
        threads.first().copied().unwrap_or(1).max(1) as f64,
        threads.last().copied().unwrap_or(1).max(1) as f64,
    );
    let span = (tmax.log2() - tmin.log2()).max(1.0);
    let x_of = |t: usize| LEFT + plot_w * ((t.max(1) as f64).log2() - tmin.log2()) / span;
    for (i, mode) in modes.iter().enumerate() {
        let y0 = head + TOP + panel_h * i as f64;
        let mine: Vec<&ScaleRow> = rows.iter().filter(|r| r.mode == *mode).collect();
        let ymax = mine.iter().map(|r| r.pages_per_sec).fold(1.0, f64::max) * 1.1;
        let y_of = |v: f64| y0 + PANEL_H * (1.0 - v / ymax);
        let _ = writeln!(
            body,
            r#"<text x="{LEFT}" y="{:.1}" font-size="13">mode {}: pages swapped in per second against threads ({cpus} CPUs)</text>"#,
            y0 - 12.0,
            esc(mode)
        );
        if let Some(&over) = threads.iter().find(|&&t| t > cpus) {
            // From halfway between the last count that fits and the first
            // that does not: the shading covers the oversubscribed points
            // only.
            let fits = threads.iter().rev().find(|&&t| t <= cpus);
            let xs = fits.map_or(LEFT, |&f| (x_of(f) + x_of(over)) / 2.0);
            let _ = writeln!(
                body,
                r##"<rect x="{xs:.1}" y="{y0:.1}" width="{:.1}" height="{PANEL_H}" fill="#f3e6e6"/><text x="{:.1}" y="{:.1}" fill="#a55">oversubscribed (more threads than CPUs)</text>"##,
                (LEFT + plot_w - xs).max(0.0),
                xs + 4.0,
                y0 + 14.0
            );
        }
        for k in 0..=4 {
            let v = ymax * k as f64 / 4.0;
            let y = y_of(v);
            let _ = writeln!(
                body,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{:.0}k</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0,
                v / 1000.0
            );
        }
        for &t in &threads {
            let x = x_of(t);
            let _ = writeln!(
                body,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{t}</text>"#,
                y0 + PANEL_H + 16.0
            );
        }
        let _ = writeln!(
            body,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">threads</text>"#,
            LEFT + plot_w / 2.0,
            y0 + PANEL_H + 32.0
        );
        for (k, st) in strategies.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let mut pts: Vec<&ScaleRow> =
                mine.iter().copied().filter(|r| r.strategy == *st).collect();
            pts.sort_by_key(|r| r.threads);
            let path: Vec<String> = pts
                .iter()
                .map(|r| format!("{:.1},{:.1}", x_of(r.threads), y_of(r.pages_per_sec)))
                .collect();
            let _ = writeln!(
                body,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                path.join(" ")
            );
            for r in &pts {
                let _ = writeln!(
                    body,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{} {} {} threads: {:.0} pages/s, ratio {}</title></circle>"#,
                    x_of(r.threads),
                    y_of(r.pages_per_sec),
                    esc(st),
                    esc(mode),
                    r.threads,
                    r.pages_per_sec,
                    r.ratio_to_bypass
                        .map_or_else(|| "-".into(), |x| format!("{x:.3}"))
                );
            }
            let ly = y0 + 10.0 + 16.0 * k as f64;
            let lx = LEFT + plot_w + 20.0;
            let _ = writeln!(
                body,
                r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="4" fill="{color}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
                ly - 5.0,
                lx + 16.0,
                esc(st)
            );
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{PANEL_W}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::super::report::tests::row;
    use super::*;

    #[test]
    fn one_panel_per_mode_and_three_bars_per_row() {
        let rows = vec![
            row("bypass", "same", 1.0),
            row("pin-retry", "same", 1.0),
            row("bypass", "disjoint", 1.0),
        ];
        let s = render(&rows, "t <1/32>");
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("fault latency, ns").count(), 2);
        assert_eq!(s.matches("ns</title>").count(), 9);
        assert!(s.contains("t &lt;1/32&gt;"));
    }

    #[test]
    fn the_ratio_panel_shows_ours_beside_the_kernels() {
        let mut rows = vec![
            row("bypass", "same", 1.0),
            row("pin-retry", "same", 1.1),
            row("swapcache", "same", 1.3),
        ];
        for (r, v) in rows.iter_mut().zip([1.0, 1.1, 1.3]) {
            r.ratio_to_bypass = Some(v);
        }
        let s = render(&rows, "x");
        assert!(s.contains("pin-retry ours, same: 1.100"), "ours");
        assert!(s.contains("pin-retry kernel: 1.020"), "kernel's");
        assert!(s.contains("swapcache kernel: 1.203"));
    }

    #[test]
    fn long_titles_wrap_and_labels_are_slanted() {
        let long = "swapin bench: zram (no zswap), compressor lz4, content zero-tail, 2 thread(s), 262144 pages populated (1.0 GiB), 81920 swapped in (320 MiB); scale 1/32, readahead 8";
        let lines = wrap(long, TITLE_CHARS);
        assert!(lines.len() >= 2);
        assert!(lines.iter().all(|l| l.chars().count() <= TITLE_CHARS));
        assert_eq!(lines.join(" "), long);
        let s = render(
            &[
                row("swapcache", "same", 1.0),
                row("swapcache:xarray", "same", 1.0),
            ],
            long,
        );
        assert_eq!(s.matches(r#"font-size="15""#).count(), lines.len());
        assert_eq!(s.matches("rotate(-35").count(), 2);
    }

    #[test]
    fn empty_input_is_still_a_document() {
        let s = render(&[], "nothing");
        assert!(s.starts_with("<svg") && s.contains("</svg>"));
        let s = render_scale(&[], "nothing", 2);
        assert!(s.starts_with("<svg") && s.contains("</svg>"));
    }
}
