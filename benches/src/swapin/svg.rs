//! The latency plot: one panel per mode, a group of bars per strategy
//! (p50, p99, p99.9) on a logarithmic nanosecond axis. Hand-written SVG:
//! no plotting dependency to build.

use std::fmt::Write;

use super::report::Row;

const PANEL_W: f64 = 900.0;
const PANEL_H: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 3] = ["#4c78a8", "#f58518", "#e45756"];
const LABELS: [&str; 3] = ["p50", "p99", "p99.9"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders `rows` (grouped into panels by mode, in order of appearance) as
/// an SVG document; `title` heads it.
pub fn render(rows: &[Row], title: &str) -> String {
    let mut modes: Vec<&str> = Vec::new();
    for r in rows {
        if !modes.contains(&r.mode.as_str()) {
            modes.push(&r.mode);
        }
    }
    let panel_h = TOP + PANEL_H + BOTTOM;
    let height = 30.0 + panel_h * modes.len().max(1) as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{PANEL_W}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="20" text-anchor="middle" font-size="15">{}</text>"#,
        PANEL_W / 2.0,
        esc(title)
    );
    // One log axis for every panel, so they compare.
    let values = rows
        .iter()
        .flat_map(|r| [r.latency.p50_ns, r.latency.p99_ns, r.latency.p999_ns]);
    let lo = values.clone().filter(|&v| v > 0).min().unwrap_or(1).max(1);
    let hi = values.max().unwrap_or(10).max(lo * 10);
    let (dlo, dhi) = ((lo as f64).log10().floor(), (hi as f64).log10().ceil());
    for (i, mode) in modes.iter().enumerate() {
        let y0 = 30.0 + panel_h * i as f64 + TOP;
        panel(&mut s, rows, mode, y0, dlo, dhi);
    }
    s.push_str("</svg>\n");
    s
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
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{:.3} us/pg</text>"##,
            gx + group * 0.4,
            y0 + PANEL_H + 16.0,
            esc(&r.strategy),
            bad,
            gx + group * 0.4,
            y0 + PANEL_H + 30.0,
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
        assert_eq!(s.matches("<title>").count(), 9);
        assert!(s.contains("t &lt;1/32&gt;"));
    }

    #[test]
    fn empty_input_is_still_a_document() {
        let s = render(&[], "nothing");
        assert!(s.starts_with("<svg") && s.contains("</svg>"));
    }
}
