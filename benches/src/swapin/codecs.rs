//! `swapin codecs`: per content and compressor, what zram would see:
//! compression ratio, the share of same-filled pages (stored as one word,
//! no compression), and the compress and decompress time per page.
//!
//! The pages are the content's own ([`content_pages`]). Ratio = bytes of the
//! pages / bytes stored, where a same-filled page stores 8 bytes and a page
//! that does not compress below a page stores a page (zram's huge class).
//! Times: the median of `passes` passes over every page that is not
//! same-filled, per page; a shared machine's noise is in them.

use std::time::Instant;

use serde::Serialize;
use zswap_tree::{Backend, MAX_COMPRESSED, PAGE_SIZE, Page, same_filled};

use super::cli::CodecsArgs;
use super::content::Content;

/// One content with one compressor.
#[derive(Clone, Debug, Serialize)]
pub struct CodecRow {
    /// Content name.
    pub content: String,
    /// Compressor label.
    pub compressor: String,
    /// Pages measured.
    pub pages: usize,
    /// Pages of one repeated word.
    pub same_filled: usize,
    /// Bytes of the pages over bytes stored.
    pub ratio: f64,
    /// Median pass: microseconds to compress one page (same-filled pages
    /// excluded; `None` when every page is same-filled).
    pub compress_us: Option<f64>,
    /// Likewise, to decompress one.
    pub decompress_us: Option<f64>,
}

/// `n` pages of `content` as the content has them: a corpus's pages as
/// captured, a class's as [`Content::fill`] makes them (for `zero-tail`, a
/// counter and an index word before the zeros). `swapin bench` writes
/// the counter and the index into words 0 and 1 of every page, so that no
/// bench page is same-filled; these are the pages before that.
pub fn content_pages(content: &Content, n: usize) -> Vec<Box<Page>> {
    (0..n)
        .map(|vpn| {
            let mut p = Box::new([0u8; PAGE_SIZE]);
            content.fill(1, vpn, &mut p);
            p
        })
        .collect()
}

/// Measures every compressor on every content.
pub fn measure(
    compressors: &[Backend],
    contents: &[Content],
    pages: usize,
    passes: usize,
) -> Result<Vec<CodecRow>, String> {
    let mut rows = Vec::new();
    for content in contents {
        let all = content_pages(content, pages);
        let same = all.iter().filter(|p| same_filled(p).is_some()).count();
        let work: Vec<&Page> = all
            .iter()
            .filter(|p| same_filled(p).is_none())
            .map(|p| &**p)
            .collect();
        for &b in compressors {
            let c = b.compressor();
            let mut buf = vec![0u8; MAX_COMPRESSED];
            let mut compressed: Vec<Vec<u8>> = Vec::with_capacity(work.len());
            for p in &work {
                let n = c
                    .compress(p, &mut buf)
                    .map_err(|e| format!("{} on {}: {e}", b.label(), content.name()))?;
                compressed.push(buf[..n].to_vec());
            }
            let stored: usize = same * 8
                + compressed
                    .iter()
                    .map(|v| v.len().min(PAGE_SIZE))
                    .sum::<usize>();
            let (mut ct, mut dt) = (Vec::new(), Vec::new());
            let mut out = Box::new([0u8; PAGE_SIZE]);
            for _ in 0..passes.max(1) {
                if work.is_empty() {
                    break;
                }
                let t = Instant::now();
                for p in &work {
                    let _ = std::hint::black_box(c.compress(p, &mut buf));
                }
                ct.push(t.elapsed().as_secs_f64() * 1e6 / work.len() as f64);
                let t = Instant::now();
                for (v, p) in compressed.iter().zip(&work) {
                    if v.len() < PAGE_SIZE {
                        c.decompress(v, &mut out)
                            .map_err(|e| format!("{} on {}: {e}", b.label(), content.name()))?;
                    } else {
                        // Stored raw: a copy.
                        out.copy_from_slice(&p[..]);
                    }
                    std::hint::black_box(&out);
                }
                dt.push(t.elapsed().as_secs_f64() * 1e6 / work.len() as f64);
            }
            let med = |v: &mut Vec<f64>| (!v.is_empty()).then(|| crate::median(v));
            rows.push(CodecRow {
                content: content.name().to_string(),
                compressor: b.label(),
                pages: all.len(),
                same_filled: same,
                ratio: (all.len() * PAGE_SIZE) as f64 / stored.max(1) as f64,
                compress_us: med(&mut ct),
                decompress_us: med(&mut dt),
            });
        }
    }
    Ok(rows)
}

/// The text table.
pub fn table(rows: &[CodecRow]) -> String {
    use std::fmt::Write;
    let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |x| format!("{x:.2}"));
    let mut s = format!(
        "{:<20} {:<10} {:>6} {:>7} {:>8} {:>11} {:>13}\n",
        "content", "compressor", "pages", "same %", "ratio", "compress us", "decompress us"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<20} {:<10} {:>6} {:>7.1} {:>8.2} {:>11} {:>13}",
            r.content,
            r.compressor,
            r.pages,
            100.0 * r.same_filled as f64 / r.pages.max(1) as f64,
            r.ratio,
            opt(r.compress_us),
            opt(r.decompress_us),
        );
    }
    s
}

/// `swapin codecs`.
pub fn run(a: &CodecsArgs) -> Result<Vec<CodecRow>, String> {
    let compressors = if a.compressors.is_empty() {
        vec![
            Backend::Lz4,
            Backend::Lz4Flex,
            Backend::Deflate,
            Backend::Lzo,
            Backend::Zstd(1),
            Backend::Zstd(3),
            Backend::Zstd(9),
        ]
    } else {
        a.compressors.clone()
    };
    let contents = if a.contents.is_empty() {
        Content::defaults()?
    } else {
        a.contents.clone()
    };
    println!(
        "swapin codecs: {} pages per content, median of {} passes (per page; same-filled pages excluded from the times)",
        a.pages, a.passes
    );
    let rows = measure(&compressors, &contents, a.pages as usize, a.passes as usize)?;
    print!("{}", table(&rows));
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())? + "\n";
        super::bench::write_file(path, &text)?;
        println!("json: {}", path.display());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zswap_tree::ContentClass;

    #[test]
    fn ratios_and_same_filled_share() {
        let contents = [
            Content::from(ContentClass::ZeroTail),
            Content::from(ContentClass::Random),
        ];
        let rows = measure(&[Backend::Lz4, Backend::Zstd(3)], &contents, 16, 1).unwrap();
        assert_eq!(rows.len(), 4);
        let zt = &rows[0];
        assert!(zt.ratio > 20.0, "{zt:?}");
        let rnd = &rows[2];
        assert_eq!(rnd.same_filled, 0);
        assert!(
            rnd.ratio <= 1.0 + 1e-9,
            "random stores a page each: {rnd:?}"
        );
        assert!(rnd.compress_us.is_some() && rnd.decompress_us.is_some());
        let t = table(&rows);
        assert_eq!(t.lines().count(), 5);
        assert!(t.contains("zstd:3"));
    }
}
