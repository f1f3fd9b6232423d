//! Page contents of a run: a synthetic [`ContentClass`] or a corpus of
//! real pages (`swapin capture`), and the corpus file format.
//!
//! ```text
//!  corpus file (little-endian)
//!  offset  size  field
//!   0       8    magic "SWAPCORP"
//!   8       4    format version (CORPUS_VERSION)
//!  12       4    page size (4096)
//!  16       8    page count N (at least 1)
//!  24       4    note length L (at most 4096)
//!  28       L    note: UTF-8, what was captured (program, pid, date)
//!  28+L     ..   one zstd frame of N * 4096 bytes: the pages in address order
//! ```

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use zswap_tree::{ContentClass, PAGE_SIZE, Page};

/// The corpus file's magic bytes.
pub const CORPUS_MAGIC: &[u8; 8] = b"SWAPCORP";
/// The corpus format this build reads and writes.
pub const CORPUS_VERSION: u32 = 1;
/// The most pages a corpus may hold (4 GiB).
pub const MAX_CORPUS_PAGES: u64 = 1 << 20;
/// The longest note.
pub const MAX_NOTE: usize = 4096;
const HEADER: usize = 28;

/// The corpus shipped with the tool (`--content real`): see
/// `benches/corpus/README.md` for what it holds and how it was captured.
pub static REAL_CORPUS: &[u8] = include_bytes!("../../corpus/real.swpc");

/// A set of pages, cycled to fill a run's populated size.
#[derive(Debug)]
pub struct Corpus {
    /// `real` or `corpus:FILE`.
    pub name: String,
    /// The file's note.
    pub note: String,
    /// The pages.
    pub pages: Vec<Box<Page>>,
}

/// What the pages of a run hold.
#[derive(Clone, Debug)]
pub enum Content {
    /// A synthetic class.
    Class(ContentClass),
    /// Pages of a corpus.
    Corpus(Arc<Corpus>),
}

impl PartialEq for Content {
    fn eq(&self, other: &Content) -> bool {
        self.name() == other.name()
    }
}

impl From<ContentClass> for Content {
    fn from(c: ContentClass) -> Content {
        Content::Class(c)
    }
}

impl Content {
    /// The name the table and JSON use.
    pub fn name(&self) -> &str {
        match self {
            Content::Class(c) => c.name(),
            Content::Corpus(c) => &c.name,
        }
    }

    /// Whether words 2.. of a page are all zero (`zero-tail`): the
    /// populate step then leaves the fresh zeroed page as it is.
    pub fn is_zero_tail(&self) -> bool {
        matches!(self, Content::Class(ContentClass::ZeroTail))
    }

    /// Writes the content of page `vpn` into `page` (for `zero-tail`:
    /// zeros after words 0 and 1).
    pub fn fill(&self, seed: u64, vpn: usize, page: &mut Page) {
        match self {
            Content::Class(c) => {
                let s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ vpn as u64;
                c.fill(s, page);
            }
            Content::Corpus(c) => page.copy_from_slice(&c.pages[vpn % c.pages.len()][..]),
        }
    }

    /// The shipped corpus as a content.
    pub fn real() -> Result<Content, String> {
        let c = Corpus::parse("real", REAL_CORPUS).map_err(|e| format!("shipped corpus: {e}"))?;
        Ok(Content::Corpus(Arc::new(c)))
    }

    /// The default content list of `swapin codecs` and of the default
    /// run's content table.
    pub fn defaults() -> Result<Vec<Content>, String> {
        let mut v: Vec<Content> = ContentClass::ALL.into_iter().map(Content::from).collect();
        v.push(Content::real()?);
        Ok(v)
    }
}

/// Parses `--content`: a class name, `real`, or `corpus:FILE` (read and
/// checked now, so that a bad file is refused before any run).
pub fn parse_content(s: &str) -> Result<Content, String> {
    if s == "real" {
        return Content::real();
    }
    if let Some(path) = s.strip_prefix("corpus:") {
        return Corpus::load(Path::new(path)).map(|c| Content::Corpus(Arc::new(c)));
    }
    ContentClass::ALL
        .into_iter()
        .find(|c| c.name() == s)
        .map(Content::Class)
        .ok_or_else(|| {
            let names: Vec<_> = ContentClass::ALL.iter().map(|c| c.name()).collect();
            format!(
                "unknown content {s:?}; known: {}, real, corpus:FILE",
                names.join(", ")
            )
        })
}

impl Corpus {
    /// Reads a corpus file.
    pub fn load(path: &Path) -> Result<Corpus, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("corpus {}: {e}", path.display()))?;
        let name = format!(
            "corpus:{}",
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        );
        Corpus::parse(&name, &bytes).map_err(|e| format!("corpus {}: {e}", path.display()))
    }

    /// Parses the bytes of a corpus file.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Corpus, String> {
        let head = bytes
            .get(..HEADER)
            .ok_or_else(|| format!("{} bytes: shorter than the header", bytes.len()))?;
        if &head[..8] != CORPUS_MAGIC {
            return Err("not a swapin corpus file (bad magic)".into());
        }
        let u32_at = |o: usize| u32::from_le_bytes(head[o..o + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        if version != CORPUS_VERSION {
            return Err(format!(
                "corpus format version {version}; this swapin reads version {CORPUS_VERSION}"
            ));
        }
        let page_size = u32_at(12);
        if page_size as usize != PAGE_SIZE {
            return Err(format!("page size {page_size}, not {PAGE_SIZE}"));
        }
        let count = u64::from_le_bytes(head[16..24].try_into().expect("8 bytes"));
        if count == 0 || count > MAX_CORPUS_PAGES {
            return Err(format!("{count} pages: expected 1..={MAX_CORPUS_PAGES}"));
        }
        let note_len = u32_at(24) as usize;
        if note_len > MAX_NOTE {
            return Err(format!("note of {note_len} bytes: at most {MAX_NOTE}"));
        }
        let note = bytes
            .get(HEADER..HEADER + note_len)
            .ok_or("truncated in the note")?;
        let note = String::from_utf8_lossy(note).into_owned();
        let mut dec = zstd::stream::read::Decoder::new(&bytes[HEADER + note_len..])
            .map_err(|e| format!("zstd: {e}"))?;
        let mut pages = Vec::with_capacity(count as usize);
        for i in 0..count {
            let mut p = Box::new([0u8; PAGE_SIZE]);
            dec.read_exact(&mut p[..]).map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    format!("truncated: {i} of {count} pages")
                } else {
                    format!("page {i} of {count}: {e}")
                }
            })?;
            pages.push(p);
        }
        let mut extra = [0u8; 1];
        match dec.read(&mut extra) {
            Ok(0) => {}
            Ok(_) => return Err(format!("more than the {count} pages the header says")),
            Err(e) => return Err(format!("after {count} pages: {e}")),
        }
        Ok(Corpus {
            name: name.to_string(),
            note,
            pages,
        })
    }

    /// The bytes of a corpus file holding `pages` (compressed with zstd
    /// at `level`).
    pub fn encode(note: &str, pages: &[Box<Page>], level: i32) -> Result<Vec<u8>, String> {
        if pages.is_empty() || pages.len() as u64 > MAX_CORPUS_PAGES {
            return Err(format!(
                "{} pages: a corpus holds 1..={MAX_CORPUS_PAGES}",
                pages.len()
            ));
        }
        let note = &note.as_bytes()[..note.len().min(MAX_NOTE)];
        let mut out = Vec::with_capacity(HEADER + note.len() + pages.len() * 512);
        out.extend_from_slice(CORPUS_MAGIC);
        out.extend_from_slice(&CORPUS_VERSION.to_le_bytes());
        out.extend_from_slice(&(PAGE_SIZE as u32).to_le_bytes());
        out.extend_from_slice(&(pages.len() as u64).to_le_bytes());
        out.extend_from_slice(&(note.len() as u32).to_le_bytes());
        out.extend_from_slice(note);
        let mut enc =
            zstd::stream::write::Encoder::new(out, level).map_err(|e| format!("zstd: {e}"))?;
        for p in pages {
            std::io::Write::write_all(&mut enc, &p[..]).map_err(|e| format!("zstd: {e}"))?;
        }
        enc.finish().map_err(|e| format!("zstd: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(n: usize) -> Vec<Box<Page>> {
        (0..n).map(|i| ContentClass::Text.page(i as u64)).collect()
    }

    #[test]
    fn corpus_round_trips() {
        let p = pages(3);
        let bytes = Corpus::encode("test note", &p, 3).unwrap();
        let c = Corpus::parse("x", &bytes).unwrap();
        assert_eq!(c.note, "test note");
        assert_eq!(c.pages.len(), 3);
        assert!(c.pages.iter().zip(&p).all(|(a, b)| a[..] == b[..]));
        let content = Content::Corpus(Arc::new(c));
        let mut page = [0u8; PAGE_SIZE];
        content.fill(1, 4, &mut page);
        assert_eq!(page[..], p[1][..], "cycled: page 4 of 3 is page 1");
    }

    #[test]
    fn bad_corpus_files_are_errors() {
        let good = Corpus::encode("n", &pages(4), 3).unwrap();
        let err = |b: &[u8]| Corpus::parse("x", b).unwrap_err();
        assert!(err(&good[..10]).contains("shorter than the header"));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(err(&bad).contains("bad magic"));
        let mut v2 = good.clone();
        v2[8] = 2;
        assert!(err(&v2).contains("version 2"), "{}", err(&v2));
        let mut ps = good.clone();
        ps[13] = 0x20;
        assert!(err(&ps).contains("page size"));
        let mut zero = good.clone();
        zero[16..24].fill(0);
        assert!(err(&zero).contains("0 pages"));
        let mut more = good.clone();
        more[16] = 5;
        assert!(err(&more).contains("truncated: 4 of 5"), "{}", err(&more));
        let mut fewer = good.clone();
        fewer[16] = 3;
        assert!(err(&fewer).contains("more than the 3 pages"));
        // Cut anywhere in the compressed part: an error, never a panic.
        for cut in [HEADER, HEADER + 1, good.len() / 2, good.len() - 1] {
            assert!(Corpus::parse("x", &good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Corpus::encode("n", &[], 3).is_err());
        let missing = Corpus::load(Path::new("/nonexistent/x.swpc")).unwrap_err();
        assert!(missing.contains("/nonexistent/x.swpc"), "{missing}");
    }

    #[test]
    fn contents_parse() {
        assert_eq!(
            parse_content("text").unwrap(),
            Content::Class(ContentClass::Text)
        );
        let real = parse_content("real").unwrap();
        assert_eq!(real.name(), "real");
        let Content::Corpus(c) = &real else {
            panic!("real is a corpus")
        };
        assert!(c.pages.len() >= 256, "{} pages", c.pages.len());
        assert!(parse_content("jpeg").unwrap_err().contains("corpus:FILE"));
        assert!(parse_content("corpus:/nonexistent").is_err());
        let dir = std::env::temp_dir().join(format!("swapin-content-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.swpc");
        std::fs::write(&f, Corpus::encode("n", &pages(2), 1).unwrap()).unwrap();
        let c = parse_content(&format!("corpus:{}", f.display())).unwrap();
        assert_eq!(c.name(), "corpus:c.swpc");
        std::fs::write(&f, b"garbage").unwrap();
        assert!(parse_content(&format!("corpus:{}", f.display())).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
