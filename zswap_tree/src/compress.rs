//! Compressors, same-filled page detection, and the four page content
//! classes the backends are measured on.
//!
//! zswap compresses through the crypto API (`crypto_acomp`) into a two-page
//! buffer and then copies the result into a zpool allocation. A
//! [`Compressor`] here does the same: [`Compressor::compress`] writes into a
//! caller buffer of [`MAX_COMPRESSED`] bytes and returns the length.
//! [`Compressor::decompress`] must validate its input: corrupt or truncated
//! data, or output that is not exactly one page long, is a
//! [`DecompressError`], never a panic and never a write outside the page.

use std::fmt;

/// Size of a page, as `PAGE_SIZE` on x86-64.
pub const PAGE_SIZE: usize = 4096;

/// A page of memory.
pub type Page = [u8; PAGE_SIZE];

/// Size of the compression buffer handed to [`Compressor::compress`]: two
/// pages, as zswap's per-CPU `acomp_ctx->buffer`.
pub const MAX_COMPRESSED: usize = 2 * PAGE_SIZE;

const WORD: usize = std::mem::size_of::<u64>();

/// A compressor failed (zswap counts these in `reject_compress_fail`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompressError {
    /// The output did not fit in the buffer.
    OutputTooSmall,
    /// The backend reported another failure.
    Backend(String),
}

impl fmt::Display for CompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutputTooSmall => f.write_str("compressed output does not fit the buffer"),
            Self::Backend(e) => write!(f, "compressor failed: {e}"),
        }
    }
}

impl std::error::Error for CompressError {}

/// Compressed data could not be turned back into a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecompressError {
    /// The input ended in the middle of a sequence.
    Truncated,
    /// The input is malformed (bad offset, bad header, bad code).
    Corrupt,
    /// The input decodes to something other than exactly one page (or,
    /// for [`Compressor::decompress_bytes`], the length asked for).
    WrongLength {
        /// Bytes produced before decoding stopped (at most the length
        /// expected; more output than that is reported as that + 1).
        len: usize,
    },
}

impl fmt::Display for DecompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("compressed data is truncated"),
            Self::Corrupt => f.write_str("compressed data is corrupt"),
            Self::WrongLength { len } => {
                write!(
                    f,
                    "compressed data decodes to {len} bytes, not the length expected"
                )
            }
        }
    }
}

impl std::error::Error for DecompressError {}

/// A page compressor (zswap's `zswap_compressor`, driven through
/// `zswap_compress` / `zswap_decompress`).
///
/// An implementation provides [`Compressor::compress_bytes`] and
/// [`Compressor::decompress_bytes`] on runs of any length; the page forms
/// are those on one page. zram's multi-page objects (the 2024 zsmalloc
/// multi-page RFC) compress a run of several pages as one input.
pub trait Compressor: Send + Sync + fmt::Debug {
    /// Short name, as zswap's `compressor` parameter (`"lz4"`, ...).
    fn name(&self) -> &'static str;

    /// Compresses `src` into `dst` (at least [`max_compressed_len`]`(src.len())`
    /// bytes long) and returns the compressed length.
    fn compress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<usize, CompressError>;

    /// Decompresses `src` into `dst`. `src` may be arbitrary bytes: the
    /// implementation must return an error rather than panic, and succeed
    /// only if exactly `dst.len()` bytes were produced (more output than
    /// that is [`DecompressError::WrongLength`] with `len = dst.len() + 1`).
    /// On error the contents of `dst` are unspecified.
    fn decompress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<(), DecompressError>;

    /// Compresses `page` into `dst` (at least [`MAX_COMPRESSED`] bytes long)
    /// and returns the compressed length.
    fn compress(&self, page: &Page, dst: &mut [u8]) -> Result<usize, CompressError> {
        self.compress_bytes(page, dst)
    }

    /// Decompresses `src` into `page`; as [`Compressor::decompress_bytes`]
    /// with exactly [`PAGE_SIZE`] bytes to produce.
    fn decompress(&self, src: &[u8], page: &mut Page) -> Result<(), DecompressError> {
        self.decompress_bytes(src, page)
    }
}

/// The compression buffer [`Compressor::compress_bytes`] needs for a run
/// of whole pages of `len` bytes: twice the input, as [`MAX_COMPRESSED`] is
/// for a page (every backend's worst case on such a run is below that:
/// LZ4's bound is `len + len / 255 + 16`, zstd's and raw deflate's are
/// smaller). A too small buffer is [`CompressError::OutputTooSmall`].
pub const fn max_compressed_len(len: usize) -> usize {
    2 * len
}

/// Copies the output of a backend that compresses into its own vector
/// into the caller's buffer (lzo1x); returns its length.
#[cfg(feature = "lzo")]
fn copy_to(out: &[u8], dst: &mut [u8]) -> Result<usize, CompressError> {
    let slot = dst
        .get_mut(..out.len())
        .ok_or(CompressError::OutputTooSmall)?;
    slot.copy_from_slice(out);
    Ok(out.len())
}

/// LZ4 through liblz4 (the `lz4` crate's block API: `LZ4_compress_default`,
/// `LZ4_decompress_safe`). The default backend: see the crate docs for the
/// measurement.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lz4;

impl Compressor for Lz4 {
    fn name(&self) -> &'static str {
        "lz4"
    }

    fn compress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<usize, CompressError> {
        lz4::block::compress_to_buffer(src, None, false, dst).map_err(|e| {
            if e.kind() == std::io::ErrorKind::Other {
                CompressError::OutputTooSmall
            } else {
                CompressError::Backend(e.to_string())
            }
        })
    }

    fn decompress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<(), DecompressError> {
        // LZ4_decompress_safe never writes past `dst` (its capacity) and
        // fails on malformed input; it cannot tell a truncated block from a
        // corrupt one.
        match lz4::block::decompress_to_buffer(
            src,
            Some(i32::try_from(dst.len()).map_err(|_| DecompressError::Corrupt)?),
            dst,
        ) {
            Ok(n) if n == dst.len() => Ok(()),
            Ok(len) => Err(DecompressError::WrongLength { len }),
            Err(_) => Err(DecompressError::Corrupt),
        }
    }
}

/// LZ4 in pure Rust (`lz4_flex`, built with `safe-encode` and `safe-decode`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Lz4Flex;

impl Compressor for Lz4Flex {
    fn name(&self) -> &'static str {
        "lz4_flex"
    }

    fn compress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<usize, CompressError> {
        lz4_flex::block::compress_into(src, dst).map_err(|e| match e {
            lz4_flex::block::CompressError::OutputTooSmall => CompressError::OutputTooSmall,
            other => CompressError::Backend(other.to_string()),
        })
    }

    fn decompress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<(), DecompressError> {
        use lz4_flex::block::DecompressError as E;
        match lz4_flex::block::decompress_into(src, dst) {
            Ok(n) if n == dst.len() => Ok(()),
            Ok(len) => Err(DecompressError::WrongLength { len }),
            Err(E::OutputTooSmall { .. }) => {
                Err(DecompressError::WrongLength { len: dst.len() + 1 })
            }
            Err(E::ExpectedAnotherByte | E::LiteralOutOfBounds) => Err(DecompressError::Truncated),
            Err(_) => Err(DecompressError::Corrupt),
        }
    }
}

/// Raw deflate in pure Rust (`miniz_oxide`, level 1): the best ratio of the
/// three and by far the slowest. Compresses on a per-thread compressor,
/// reset for each page, straight into the caller's buffer, as the kernel's
/// deflate keeps its workspace per transform: `compress_to_vec` allocated
/// about 300 KiB of hash chains and Huffman tables per page, and an output
/// vector to copy from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Deflate;

std::thread_local! {
    /// This thread's deflate compressor (raw deflate, level 1).
    static DEFLATE: std::cell::RefCell<Option<Box<miniz_oxide::deflate::core::CompressorOxide>>> =
        const { std::cell::RefCell::new(None) };
}

impl Compressor for Deflate {
    fn name(&self) -> &'static str {
        "deflate"
    }

    fn compress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<usize, CompressError> {
        use miniz_oxide::deflate::core::{
            CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
        };
        DEFLATE.with(|c| {
            let mut c = c.borrow_mut();
            let d = c.get_or_insert_with(|| {
                // Level 1, window bits 0 (raw deflate, no zlib header) and
                // the default strategy: `compress_to_vec(src, 1)`'s flags.
                Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                    1, 0, 0,
                )))
            });
            d.reset();
            match compress(d, src, dst, TDEFLFlush::Finish) {
                (TDEFLStatus::Done, _, len) => Ok(len),
                // Output left to write, and no room for it.
                (TDEFLStatus::Okay, ..) => Err(CompressError::OutputTooSmall),
                (status, ..) => Err(CompressError::Backend(format!(
                    "miniz_oxide compress: {status:?}"
                ))),
            }
        })
    }

    fn decompress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<(), DecompressError> {
        use miniz_oxide::inflate::TINFLStatus as S;
        match miniz_oxide::inflate::decompress_slice_iter_to_slice(
            dst,
            std::iter::once(src),
            false,
            true,
        ) {
            Ok(n) if n == dst.len() => Ok(()),
            Ok(len) => Err(DecompressError::WrongLength { len }),
            Err(S::HasMoreOutput) => Err(DecompressError::WrongLength { len: dst.len() + 1 }),
            Err(S::NeedsMoreInput | S::FailedCannotMakeProgress) => Err(DecompressError::Truncated),
            Err(_) => Err(DecompressError::Corrupt),
        }
    }
}

/// zstd through libzstd (the `zstd` crate's bulk API on a per-thread
/// context, as zram keeps one per CPU), at a level from
/// [`Zstd::MIN_LEVEL`] to [`Zstd::MAX_LEVEL`]. zram's and zswap's zstd use
/// level 3 unless told otherwise (`ZSTD_CLEVEL_DEFAULT`; zram takes
/// `algorithm_params level=N` since Linux 6.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zstd {
    level: i32,
}

impl Zstd {
    /// The lowest level offered here.
    pub const MIN_LEVEL: i32 = 1;
    /// The highest level (`ZSTD_maxCLevel`).
    pub const MAX_LEVEL: i32 = 22;
    /// The kernel's default level.
    pub const DEFAULT_LEVEL: i32 = 3;

    /// The level.
    pub fn level(self) -> i32 {
        self.level
    }
}

/// One [`Zstd`] per level, so that [`Backend::compressor`] can hand out a
/// `'static` reference.
static ZSTD_LEVELS: [Zstd; Zstd::MAX_LEVEL as usize] = {
    let mut a = [Zstd { level: 1 }; Zstd::MAX_LEVEL as usize];
    let mut i = 0;
    while i < a.len() {
        a[i] = Zstd {
            level: i as i32 + 1,
        };
        i += 1;
    }
    a
};

std::thread_local! {
    /// This thread's compression context and the level it was made for.
    static ZSTD_CCTX: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
    /// This thread's decompression context.
    static ZSTD_DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

impl Compressor for Zstd {
    fn name(&self) -> &'static str {
        "zstd"
    }

    fn compress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<usize, CompressError> {
        ZSTD_CCTX.with(|c| {
            let mut c = c.borrow_mut();
            if c.as_ref().is_none_or(|(l, _)| *l != self.level) {
                let ctx = zstd::bulk::Compressor::new(self.level)
                    .map_err(|e| CompressError::Backend(e.to_string()))?;
                *c = Some((self.level, ctx));
            }
            let Some((_, ctx)) = c.as_mut() else {
                unreachable!("set above")
            };
            ctx.compress_to_buffer(src, dst).map_err(|e| {
                // ZSTD_error_dstSize_tooSmall.
                if e.to_string().contains("too small") {
                    CompressError::OutputTooSmall
                } else {
                    CompressError::Backend(e.to_string())
                }
            })
        })
    }

    fn decompress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<(), DecompressError> {
        ZSTD_DCTX.with(|d| {
            let mut d = d.borrow_mut();
            if d.is_none() {
                *d = Some(zstd::bulk::Decompressor::new().map_err(|_| DecompressError::Corrupt)?);
            }
            let Some(ctx) = d.as_mut() else {
                unreachable!("set above")
            };
            // ZSTD_decompressDCtx into `dst`: it never writes past it and
            // fails on malformed, truncated or oversized input.
            match ctx.decompress_to_buffer(src, dst) {
                Ok(n) if n == dst.len() => Ok(()),
                Ok(len) => Err(DecompressError::WrongLength { len }),
                Err(e) => {
                    let m = e.to_string();
                    Err(if m.contains("too small") {
                        DecompressError::WrongLength { len: dst.len() + 1 }
                    } else if m.contains("Src size is incorrect") || m.contains("truncated") {
                        DecompressError::Truncated
                    } else {
                        DecompressError::Corrupt
                    })
                }
            }
        })
    }
}

/// LZO1X in pure Rust (the `lzo1x` crate, a safe port of liblzo2; GPL-2.0
/// as LZO itself is), compressing with its level 3 (liblzo2's `lzo1x_1`,
/// a 2^14-entry dictionary; the kernel's `lzo1x_1_compress` uses 2^13).
/// This is zram's `lzo`. zram's default, `lzo-rle` (Linux 5.1, 45ec975efb52),
/// writes a different bitstream (version 1: zero runs as an RLE
/// instruction) that no crate implements, so it is not offered: on
/// zero-heavy pages it is faster than `lzo` and compresses about as well.
///
/// Only with the crate's `lzo` feature (off by default): the `lzo1x`
/// crate is GPL-2.0, this crate MIT OR Apache-2.0.
#[cfg(feature = "lzo")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lzo;

#[cfg(feature = "lzo")]
impl Compressor for Lzo {
    fn name(&self) -> &'static str {
        "lzo"
    }

    fn compress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<usize, CompressError> {
        copy_to(&lzo1x::compress(src, lzo1x::CompressLevel::new(3)), dst)
    }

    fn decompress_bytes(&self, src: &[u8], dst: &mut [u8]) -> Result<(), DecompressError> {
        // lzo1x::decompress checks every read and write against its slices
        // and requires the output to fill `dst` exactly; it does not say
        // how long a wrong-length output was, so that is `Corrupt` too.
        lzo1x::decompress(src, dst).map_err(|_| DecompressError::Corrupt)
    }
}

/// The built-in backends, for choosing one at run time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// [`Lz4`]: liblz4. The default.
    #[default]
    Lz4,
    /// [`Lz4Flex`]: pure-Rust LZ4.
    Lz4Flex,
    /// [`Deflate`]: pure-Rust deflate.
    Deflate,
    /// [`Zstd`] at a level (clamped to `Zstd::MIN_LEVEL..=Zstd::MAX_LEVEL`).
    Zstd(i32),
    /// [`Lzo`]: LZO1X (zram's `lzo`); only with the `lzo` feature.
    #[cfg(feature = "lzo")]
    Lzo,
}

impl Backend {
    /// Every backend, default first (zstd at its default level; `lzo`
    /// last, with the `lzo` feature).
    #[cfg(feature = "lzo")]
    pub const ALL: [Backend; 5] = [
        Backend::Lz4,
        Backend::Lz4Flex,
        Backend::Deflate,
        Backend::Zstd(Zstd::DEFAULT_LEVEL),
        Backend::Lzo,
    ];

    /// Every backend, default first (zstd at its default level; `lzo`
    /// only with the `lzo` feature).
    #[cfg(not(feature = "lzo"))]
    pub const ALL: [Backend; 4] = [
        Backend::Lz4,
        Backend::Lz4Flex,
        Backend::Deflate,
        Backend::Zstd(Zstd::DEFAULT_LEVEL),
    ];

    /// The error of asking for `lzo` (named `name`) in a build without
    /// the `lzo` feature.
    pub fn lzo_unavailable(name: &str) -> String {
        format!(
            "compressor {name:?}: not built in: zswap_tree's cargo feature `lzo` is off \
             (the lzo1x crate is GPL-2.0, so it is opt-in: build with `--features zswap_tree/lzo`)"
        )
    }

    /// The backend's compressor.
    pub fn compressor(self) -> &'static dyn Compressor {
        match self {
            Backend::Lz4 => &Lz4,
            Backend::Lz4Flex => &Lz4Flex,
            Backend::Deflate => &Deflate,
            Backend::Zstd(level) => {
                &ZSTD_LEVELS[(level.clamp(Zstd::MIN_LEVEL, Zstd::MAX_LEVEL) - 1) as usize]
            }
            #[cfg(feature = "lzo")]
            Backend::Lzo => &Lzo,
        }
    }

    /// The backend's name (`zstd` for every level; see [`Backend::label`]).
    pub fn name(self) -> &'static str {
        self.compressor().name()
    }

    /// The name with the level where there is one (`zstd:3`), as
    /// [`Backend::parse`] reads it.
    pub fn label(self) -> String {
        match self {
            Backend::Zstd(l) => format!("zstd:{}", l.clamp(Zstd::MIN_LEVEL, Zstd::MAX_LEVEL)),
            b => b.name().to_string(),
        }
    }

    /// Parses a backend name: `lz4`, `lz4_flex`, `deflate`, `lzo` (or
    /// `lzo1x`), `zstd` (level 3) or `zstd:N` for a level N in 1..=22.
    /// zram's other names are refused with the reason, and `lzo` without
    /// the `lzo` feature with the feature's name
    /// ([`Backend::lzo_unavailable`]).
    pub fn parse(s: &str) -> Result<Backend, String> {
        #[cfg(feature = "lzo")]
        const KNOWN: &str = "lz4, lz4_flex, deflate, lzo, zstd, zstd:LEVEL (1-22)";
        #[cfg(not(feature = "lzo"))]
        const KNOWN: &str = "lz4, lz4_flex, deflate, zstd, zstd:LEVEL (1-22)";
        Ok(match s {
            "lz4" => Backend::Lz4,
            "lz4_flex" | "lz4-flex" => Backend::Lz4Flex,
            "deflate" => Backend::Deflate,
            #[cfg(feature = "lzo")]
            "lzo" | "lzo1x" => Backend::Lzo,
            #[cfg(not(feature = "lzo"))]
            "lzo" | "lzo1x" => return Err(Backend::lzo_unavailable(s)),
            "zstd" => Backend::Zstd(Zstd::DEFAULT_LEVEL),
            "lzo-rle" => {
                return Err(format!(
                    "compressor \"lzo-rle\": not available (no implementation of the kernel's \
                     lzo-rle bitstream); the nearest is \"lzo\". Known: {KNOWN}"
                ));
            }
            _ => match s.strip_prefix("zstd:").or_else(|| s.strip_prefix("zstd-")) {
                Some(l) => {
                    let level: i32 = l
                        .parse()
                        .map_err(|_| format!("compressor {s:?}: level {l:?} is not a number"))?;
                    if !(Zstd::MIN_LEVEL..=Zstd::MAX_LEVEL).contains(&level) {
                        return Err(format!(
                            "compressor {s:?}: zstd level {level} is outside {}..={}",
                            Zstd::MIN_LEVEL,
                            Zstd::MAX_LEVEL
                        ));
                    }
                    Backend::Zstd(level)
                }
                None => return Err(format!("unknown compressor {s:?}; known: {KNOWN}")),
            },
        })
    }
}

/// If every 64-bit word of `page` holds the same value, returns it
/// (`zswap_is_page_same_filled`). Words are read in native byte order, as
/// the kernel reads `unsigned long`s; [`fill_page`] writes them back the
/// same way. Like the kernel, compares the first and last word before the
/// rest, so that most pages are refused after two loads.
pub fn same_filled(page: &Page) -> Option<u64> {
    let first = u64::from_ne_bytes(page[..WORD].try_into().ok()?);
    let last = u64::from_ne_bytes(page[PAGE_SIZE - WORD..].try_into().ok()?);
    if first != last {
        return None;
    }
    // Compare in 64-byte blocks so the loop vectorises.
    let pattern = first.to_ne_bytes();
    let all = page.chunks_exact(64).all(|block| {
        block
            .chunks_exact(WORD)
            .fold(true, |eq, w| eq & (w == pattern))
    });
    all.then_some(first)
}

/// Fills `page` with the repeated word `value` (`zswap_fill_page`).
pub fn fill_page(page: &mut Page, value: u64) {
    let bytes = value.to_ne_bytes();
    if bytes.iter().all(|&b| b == bytes[0]) {
        page.fill(bytes[0]);
    } else {
        for w in page.chunks_exact_mut(WORD) {
            w.copy_from_slice(&bytes);
        }
    }
}

/// The page content classes the backends are measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentClass {
    /// As the stress reproducer writes: word 0 a counter, word 1 the page
    /// index, the rest zeros.
    ZeroTail,
    /// Text: log-like lines from a few templates with varying numbers.
    Text,
    /// The first half random bytes, the second half zeros: about 2:1.
    HalfRandom,
    /// Random bytes: incompressible.
    Random,
}

impl ContentClass {
    /// Every class, in the order of the crate docs' table.
    pub const ALL: [ContentClass; 4] = [
        ContentClass::ZeroTail,
        ContentClass::Text,
        ContentClass::HalfRandom,
        ContentClass::Random,
    ];

    /// Short name for tables and bench ids.
    pub fn name(self) -> &'static str {
        match self {
            ContentClass::ZeroTail => "zero-tail",
            ContentClass::Text => "text",
            ContentClass::HalfRandom => "half-random",
            ContentClass::Random => "random",
        }
    }

    /// Writes a page of this class into `page`; `seed` varies the content
    /// (for `ZeroTail` it is the page index and the counter).
    pub fn fill(self, seed: u64, page: &mut Page) {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        match self {
            ContentClass::ZeroTail => {
                page.fill(0);
                page[..WORD].copy_from_slice(&seed.wrapping_add(1).to_ne_bytes());
                page[WORD..2 * WORD].copy_from_slice(&seed.to_ne_bytes());
            }
            ContentClass::Text => {
                // Log-like lines: a few templates with varying numbers.
                const LINES: [&str; 6] = [
                    "kernel: zswap: stored page at offset ",
                    "kernel: swap_read_folio: reading slot ",
                    "the swap cache holds the folio for entry ",
                    "do_swap_page: pte changed under us, retry at ",
                    "Adding 33554428k swap on /dev/zram0. Priority:100 extents:1 across:",
                    "a lost increment is data loss; a wrong index is a misload, page ",
                ];
                let mut pos = 0;
                while pos < PAGE_SIZE {
                    let r = rng.next();
                    let line = format!("{}{}\n", LINES[(r % 6) as usize], (r >> 8) % 100_000);
                    let n = line.len().min(PAGE_SIZE - pos);
                    page[pos..pos + n].copy_from_slice(&line.as_bytes()[..n]);
                    pos += n;
                }
            }
            ContentClass::HalfRandom => {
                rng.fill(&mut page[..PAGE_SIZE / 2]);
                page[PAGE_SIZE / 2..].fill(0);
            }
            ContentClass::Random => rng.fill(page),
        }
    }

    /// A freshly allocated page of this class.
    pub fn page(self, seed: u64) -> Box<Page> {
        let mut page = Box::new([0u8; PAGE_SIZE]);
        self.fill(seed, &mut page);
        page
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(WORD) {
            let r = self.next().to_ne_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn compress(b: Backend, page: &Page) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_COMPRESSED];
        let n = b.compressor().compress(page, &mut buf).expect("compress");
        buf.truncate(n);
        buf
    }

    /// The per-thread deflate compressor, reset per page, writes what a
    /// fresh `compress_to_vec` writes, whatever it compressed before; a
    /// buffer one byte short is refused.
    #[test]
    fn deflate_reused_compressor_matches_a_fresh_one() {
        let mut pages = Vec::new();
        for class in ContentClass::ALL {
            for seed in [0u64, 1, 77] {
                pages.push(class.page(seed));
            }
        }
        // Each page after every other page: the state a reset must clear.
        for round in 0..2 {
            for (i, page) in pages.iter().enumerate() {
                let want = miniz_oxide::deflate::compress_to_vec(&page[..], 1);
                let got = compress(Backend::Deflate, page);
                assert_eq!(got, want, "page {i}, round {round}");
                let mut short = vec![0u8; want.len() - 1];
                assert_eq!(
                    Deflate.compress_bytes(&page[..], &mut short),
                    Err(CompressError::OutputTooSmall),
                    "page {i}"
                );
            }
            pages.reverse();
        }
    }

    #[test]
    fn round_trip_every_class_and_backend() {
        for b in Backend::ALL {
            for class in ContentClass::ALL {
                for seed in [0u64, 1, 77] {
                    let page = class.page(seed);
                    let c = compress(b, &page);
                    let mut out = [0xAAu8; PAGE_SIZE];
                    b.compressor().decompress(&c, &mut out).unwrap();
                    assert_eq!(&out[..], &page[..], "{} {}", b.name(), class.name());
                }
            }
        }
    }

    #[test]
    fn classes_compress_as_described() {
        for b in Backend::ALL {
            let len = |c: ContentClass| compress(b, &c.page(3)).len();
            assert!(len(ContentClass::ZeroTail) < 100, "{}", b.name());
            assert!(len(ContentClass::Text) < PAGE_SIZE / 2, "{}", b.name());
            let half = len(ContentClass::HalfRandom);
            assert!(
                (PAGE_SIZE / 2..PAGE_SIZE / 2 + 200).contains(&half),
                "{} {half}",
                b.name()
            );
            assert!(len(ContentClass::Random) >= PAGE_SIZE, "{}", b.name());
        }
    }

    /// Runs of 16 pages (zram's 64 KiB objects) round-trip through every
    /// backend, compress better than 16 pages one by one on a compressible
    /// class, and a run decoded into a buffer of the wrong size is an error.
    #[test]
    fn multi_page_runs_round_trip() {
        const N: usize = 16;
        for b in Backend::ALL {
            let c = b.compressor();
            for class in ContentClass::ALL {
                let mut run = vec![0u8; N * PAGE_SIZE];
                for (i, p) in run.chunks_exact_mut(PAGE_SIZE).enumerate() {
                    let page: &mut Page = p.try_into().unwrap();
                    class.fill(i as u64, page);
                }
                let mut dst = vec![0u8; max_compressed_len(run.len())];
                let n = c.compress_bytes(&run, &mut dst).unwrap();
                let mut out = vec![0u8; run.len()];
                c.decompress_bytes(&dst[..n], &mut out).unwrap();
                assert!(out == run, "{} {}", b.name(), class.name());
                let short = c.decompress_bytes(&dst[..n], &mut out[..PAGE_SIZE]);
                assert!(short.is_err(), "{} {}", b.name(), class.name());
                let mut long = vec![0u8; run.len() + PAGE_SIZE];
                assert!(c.decompress_bytes(&dst[..n], &mut long).is_err());
                if class == ContentClass::Text {
                    let per_page: usize = run
                        .chunks_exact(PAGE_SIZE)
                        .map(|p| compress(b, p.try_into().unwrap()).len())
                        .sum();
                    assert!(n < per_page, "{}: {n} >= {per_page}", b.name());
                }
            }
        }
    }

    #[test]
    fn truncated_and_wrong_length_are_errors() {
        for b in Backend::ALL {
            for class in ContentClass::ALL {
                let c = compress(b, &class.page(5));
                let mut out = [0u8; PAGE_SIZE];
                for cut in [0, 1, c.len() / 2, c.len() - 1] {
                    assert!(
                        b.compressor().decompress(&c[..cut], &mut out).is_err(),
                        "{} {cut}",
                        b.name()
                    );
                }
            }
            // Valid data that decodes to half a page is a wrong length.
            let mut half = vec![0u8; MAX_COMPRESSED];
            let n = match b {
                Backend::Lz4 => {
                    lz4::block::compress_to_buffer(&[7u8; 2048], None, false, &mut half).unwrap()
                }
                Backend::Lz4Flex => {
                    lz4_flex::block::compress_into(&[7u8; 2048], &mut half).unwrap()
                }
                Backend::Deflate => {
                    let v = miniz_oxide::deflate::compress_to_vec(&[7u8; 2048], 1);
                    half[..v.len()].copy_from_slice(&v);
                    v.len()
                }
                Backend::Zstd(l) => {
                    zstd::bulk::compress_to_buffer(&[7u8; 2048], &mut half, l).unwrap()
                }
                #[cfg(feature = "lzo")]
                Backend::Lzo => {
                    let v = lzo1x::compress(&[7u8; 2048], lzo1x::CompressLevel::new(3));
                    half[..v.len()].copy_from_slice(&v);
                    v.len()
                }
            };
            let mut out = [0u8; PAGE_SIZE];
            let err = b.compressor().decompress(&half[..n], &mut out).unwrap_err();
            // lzo1x cannot say how long a wrong-length output was.
            #[cfg(feature = "lzo")]
            let lzo = b == Backend::Lzo;
            #[cfg(not(feature = "lzo"))]
            let lzo = false;
            let want = if lzo {
                DecompressError::Corrupt
            } else {
                DecompressError::WrongLength { len: 2048 }
            };
            assert_eq!(err, want, "{}", b.name());
            // Two pages' worth of data is refused too.
            let mut two = vec![0u8; 3 * PAGE_SIZE];
            let n = match b {
                Backend::Lz4 => {
                    lz4::block::compress_to_buffer(&[1u8; 8192], None, false, &mut two).unwrap()
                }
                Backend::Lz4Flex => lz4_flex::block::compress_into(&[1u8; 8192], &mut two).unwrap(),
                Backend::Deflate => {
                    let v = miniz_oxide::deflate::compress_to_vec(&[1u8; 8192], 1);
                    two[..v.len()].copy_from_slice(&v);
                    v.len()
                }
                Backend::Zstd(l) => {
                    zstd::bulk::compress_to_buffer(&[1u8; 8192], &mut two, l).unwrap()
                }
                #[cfg(feature = "lzo")]
                Backend::Lzo => {
                    let v = lzo1x::compress(&[1u8; 8192], lzo1x::CompressLevel::new(3));
                    two[..v.len()].copy_from_slice(&v);
                    v.len()
                }
            };
            assert!(
                b.compressor().decompress(&two[..n], &mut out).is_err(),
                "{}",
                b.name()
            );
        }
    }

    #[test]
    fn backends_parse_by_name_and_level() {
        for b in Backend::ALL {
            assert_eq!(Backend::parse(&b.label()), Ok(b), "{}", b.label());
        }
        assert_eq!(Backend::parse("zstd"), Ok(Backend::Zstd(3)));
        assert_eq!(Backend::parse("zstd:19"), Ok(Backend::Zstd(19)));
        #[cfg(feature = "lzo")]
        assert_eq!(Backend::parse("lzo1x"), Ok(Backend::Lzo));
        #[cfg(not(feature = "lzo"))]
        for name in ["lzo", "lzo1x"] {
            let e = Backend::parse(name).unwrap_err();
            assert!(e.contains("feature `lzo`") && e.contains("GPL-2.0"), "{e}");
        }
        for bad in ["zstd:0", "zstd:23", "zstd:x", "lz5", "", "lzo-rle"] {
            let e = Backend::parse(bad).unwrap_err();
            assert!(e.contains("compressor"), "{bad}: {e}");
        }
        assert!(
            Backend::parse("lzo-rle")
                .unwrap_err()
                .contains("not available")
        );
        // Every level is its own compressor and round-trips.
        let page = ContentClass::Text.page(4);
        let mut last = usize::MAX;
        for level in [1, 3, 9, 19] {
            let b = Backend::Zstd(level);
            let c = compress(b, &page);
            let mut out = [0u8; PAGE_SIZE];
            b.compressor().decompress(&c, &mut out).unwrap();
            assert_eq!(&out[..], &page[..]);
            assert!(
                c.len() <= last.saturating_add(16),
                "level {level}: {} after {last}",
                c.len()
            );
            last = c.len();
        }
        assert_eq!(Backend::Zstd(99).label(), "zstd:22");
    }

    #[test]
    fn same_filled_detection_and_fill() {
        let mut page = [0u8; PAGE_SIZE];
        assert_eq!(same_filled(&page), Some(0));
        for v in [0u64, u64::MAX, 0x0101_0101_0101_0101, 0xDEAD_BEEF_0BAD_F00D] {
            fill_page(&mut page, v);
            assert_eq!(same_filled(&page), Some(v));
            assert!(page.chunks_exact(8).all(|w| w == v.to_ne_bytes()));
        }
        // A single different byte anywhere defeats it: first, middle, last word.
        for pos in [0, 7, 8, 2048, 4087, 4088, 4095] {
            fill_page(&mut page, 0x1234);
            page[pos] ^= 0x40;
            assert_eq!(same_filled(&page), None, "byte {pos}");
        }
        assert_eq!(same_filled(&ContentClass::ZeroTail.page(9)), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

        /// Arbitrary input never panics, and success means a full page.
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            for b in Backend::ALL {
                let mut out = [0u8; PAGE_SIZE];
                let _ = b.compressor().decompress(&data, &mut out);
            }
        }

        /// Flipping bytes of valid data gives an error or some page, never a panic.
        #[test]
        fn corrupted_never_panics(class in 0usize..4, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
            for b in Backend::ALL {
                let mut c = compress(b, &ContentClass::ALL[class].page(11));
                for &(pos, x) in &flips {
                    let n = c.len();
                    c[pos % n] ^= x | 1;
                }
                let mut out = [0u8; PAGE_SIZE];
                let _ = b.compressor().decompress(&c, &mut out);
            }
        }
    }
}
