//! Fuzz-target logic, compiled with the `fuzzing` feature.
//!
//! The cargo-fuzz targets `zswap_ops` and `zswap_decompress` (in the
//! workspace's `fuzz/` directory) are one-line calls to [`zswap_ops`] and
//! [`zswap_decompress`]; the crate's `tests/fuzz_replay.rs` calls the same
//! functions on every committed input under `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/`, so stable `cargo test` replays them.
//!
//! Both decode their bytes with [`arbitrary::Unstructured`] and panic on a
//! bug: a wrong page, a wrong result, a violated invariant, a statistic the
//! sequential model disagrees with, or a panic inside the crate.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use arbitrary::{Result, Unstructured};

use crate::{
    Backend, Config, ContentClass, LoadError, LoadMode, MAX_COMPRESSED, PAGE_SIZE, Page,
    REGION_SLOTS, Stats, StoreError, WritebackTarget, ZswapTree, fill_page, same_filled,
};

/// The longest operation sequence one [`zswap_ops`] input decodes to.
pub const MAX_OPS: usize = 256;

// ---------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------

/// A page chosen by the input: one of the measured content classes, a
/// same-filled page, or up to 64 input bytes placed in a zero page.
fn page(u: &mut Unstructured<'_>) -> Result<Box<Page>> {
    let mut p = Box::new([0u8; PAGE_SIZE]);
    match u.int_in_range(0u8..=6)? {
        k @ 0..=3 => {
            let seed = u64::from(u.arbitrary::<u16>()?);
            ContentClass::ALL[usize::from(k)].fill(seed, &mut p);
        }
        4 => {
            let word = match u.int_in_range(0u8..=3)? {
                0 => 0,
                1 => u64::MAX,
                2 => 0x0101_0101_0101_0101 * u64::from(u.arbitrary::<u8>()?),
                _ => u.arbitrary()?,
            };
            fill_page(&mut p, word);
        }
        _ => {
            let at = usize::from(u.arbitrary::<u16>()?) % PAGE_SIZE;
            let len = u.int_in_range(0usize..=64)?.min(PAGE_SIZE - at);
            let bytes = u.bytes(len.min(u.len()))?;
            p[at..at + bytes.len()].copy_from_slice(bytes);
        }
    }
    Ok(p)
}

fn compress(backend: Backend, page: &Page) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_COMPRESSED];
    match backend.compressor().compress(page, &mut buf) {
        Ok(len) => {
            buf.truncate(len);
            buf
        }
        Err(e) => panic!("{} failed to compress a page: {e}", backend.name()),
    }
}

/// Most pages [`compressed_len`] remembers before it starts again.
const LEN_MEMO_PAGES: usize = 2048;

/// Compressed lengths by backend and page hash; each bucket keeps its whole
/// pages and compares them (a hash alone could collide).
type LenMemo = HashMap<(Backend, u64), Vec<(Box<Page>, usize)>>;

std::thread_local! {
    /// The model's compressed lengths ([`compressed_len`]).
    static LEN_MEMO: RefCell<LenMemo> =
        RefCell::new(HashMap::new());
    static LEN_MEMO_SIZE: Cell<usize> = const { Cell::new(0) };
}

/// The length `backend` compresses `page` to, for the model's prediction:
/// compressing is deterministic, so a page this thread compressed before
/// (in this input or an earlier one: pages are drawn from a few content
/// classes and seeds) is looked up instead of compressed again. The tree
/// under test still compresses every page it stores.
fn compressed_len(backend: Backend, page: &Page) -> usize {
    // FNV-1a over the page's words: only a bucket index.
    let hash = page.chunks_exact(8).fold(0xcbf2_9ce4_8422_2325u64, |h, w| {
        let w = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        (h ^ w).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let key = (backend, hash);
    let hit = LEN_MEMO.with(|m| {
        m.borrow()
            .get(&key)
            .and_then(|v| v.iter().find(|(p, _)| p[..] == page[..]).map(|&(_, n)| n))
    });
    if let Some(n) = hit {
        return n;
    }
    let n = compress(backend, page).len();
    LEN_MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if LEN_MEMO_SIZE.get() >= LEN_MEMO_PAGES {
            m.clear();
            LEN_MEMO_SIZE.set(0);
        }
        m.entry(key).or_default().push((Box::new(*page), n));
        LEN_MEMO_SIZE.set(LEN_MEMO_SIZE.get() + 1);
    });
    n
}

// ---------------------------------------------------------------------------
// zswap_decompress
// ---------------------------------------------------------------------------

/// Stores a payload with [`ZswapTree::store_compressed`] and loads it in
/// both modes: each load must give an error or a page, never panic; both
/// modes and the compressor called directly must agree; a payload that
/// another implementation of the same format also decodes must decode to
/// the same page; and a payload made by compressing a page (unmutated) must
/// give that page back. Afterwards the pool is empty and the statistics
/// count exactly one free and the load errors seen.
///
/// The input is a backend, then either raw bytes (the whole rest of the
/// input is the payload) or a page (see `page`) compressed with that
/// backend and then perhaps mutated (a flipped byte, a truncation, input
/// bytes appended or spliced in).
///
/// # Panics
/// On any of the violations above: that is the bug the fuzzer looks for.
pub fn zswap_decompress(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((backend, offset, payload, original)) = decompress_input(&mut u) else {
        return;
    };
    let what = format!("{} payload of {} bytes", backend.name(), payload.len());
    let zswap = ZswapTree::new(
        2 * REGION_SLOTS,
        Config {
            backend,
            ..Config::default()
        },
    );
    assert_eq!(zswap.store_compressed(offset, &payload), Ok(()), "{what}");
    assert_eq!(zswap.stats().pool_bytes, payload.len() as u64, "{what}");

    // The compressor itself, on a page full of junk (a decoder that claims
    // success must have written the whole page).
    let mut direct = Box::new([0xA5u8; PAGE_SIZE]);
    let direct_ok = backend
        .compressor()
        .decompress(&payload, &mut direct)
        .is_ok();

    let mut errors = 0;
    let mut first: Option<std::result::Result<Box<Page>, LoadError>> = None;
    for (mode, junk) in [
        (LoadMode::Optimistic, 0x5Au8),
        (LoadMode::Optimistic, 0xC3),
        (LoadMode::Exclusive, 0x3C),
    ] {
        let mut out = Box::new([junk; PAGE_SIZE]);
        let got = match zswap.load(offset, &mut out, mode) {
            Ok(true) => Ok(out),
            Ok(false) => panic!("{what}: {mode:?} load missed a stored entry"),
            Err(e) => {
                errors += 1;
                match e {
                    LoadError::Corrupt { offset: o } | LoadError::Truncated { offset: o } => {
                        assert_eq!(o, offset, "{what}: {e}");
                    }
                    LoadError::WrongLength { offset: o, len } => {
                        assert_eq!(o, offset, "{what}: {e}");
                        assert!(len != PAGE_SIZE && len <= PAGE_SIZE + 1, "{what}: {e}");
                    }
                    LoadError::OutOfRange { .. } => panic!("{what}: {e}"),
                }
                Err(e)
            }
        };
        match &first {
            None => first = Some(got),
            Some(prev) => assert_eq!(prev, &got, "{what}: {mode:?} load disagrees"),
        }
    }
    let result = first.expect("three loads ran");
    match &result {
        Ok(p) => {
            assert!(
                direct_ok,
                "{what}: the tree decoded what the compressor refused"
            );
            assert_eq!(
                p, &direct,
                "{what}: the tree's page differs from the compressor's"
            );
            if let Some(reference) = reference_decode(backend, &payload) {
                assert_eq!(
                    p[..],
                    reference[..],
                    "{what}: differs from another decoder of the format"
                );
            }
        }
        Err(e) => assert!(
            !direct_ok,
            "{what}: the tree failed ({e}) but the compressor decoded it"
        ),
    }
    if let Some(original) = &original {
        assert_eq!(
            result.as_ref().ok(),
            Some(original),
            "{what}: a compressed page did not load back as itself"
        );
    }

    let mut out = Box::new([0u8; PAGE_SIZE]);
    assert_eq!(
        zswap.load(offset, &mut out, LoadMode::Exclusive),
        Ok(false),
        "{what}"
    );
    let s = zswap.stats();
    let want = Stats {
        pool_bytes: 0,
        stores: 1,
        loads_exclusive: u64::from(result.is_ok()),
        loads_optimistic: 2 * u64::from(result.is_ok()),
        load_misses: 1,
        load_errors: errors,
        compressed_frees: 1,
        ..Stats::default()
    };
    assert_eq!(s, want, "{what}: statistics");
    if let Err(e) = zswap.check_invariants() {
        panic!("{what}: {e}");
    }
}

type DecompressInput = (Backend, u64, Vec<u8>, Option<Box<Page>>);

fn decompress_input(u: &mut Unstructured<'_>) -> Result<DecompressInput> {
    let backend = *u.choose(&Backend::ALL)?;
    let offset = *u.choose(&[0, 1, REGION_SLOTS - 1, REGION_SLOTS, 2 * REGION_SLOTS - 1])?;
    if u.ratio(1, 3)? {
        return Ok((backend, offset, u.bytes(u.len())?.to_vec(), None));
    }
    let original = page(u)?;
    let mut payload = compress(backend, &original);
    let mutated = match u.int_in_range(0u8..=4)? {
        0 => false,
        1 if !payload.is_empty() => {
            let i = u.choose_index(payload.len())?;
            payload[i] ^= u.int_in_range(1u8..=255)?;
            true
        }
        2 => {
            payload.truncate(u.choose_index(payload.len() + 1)?);
            true
        }
        3 => {
            let tail = u.bytes(u.len())?;
            payload.extend_from_slice(tail);
            !tail.is_empty()
        }
        _ => {
            let at = u.choose_index(payload.len() + 1)?;
            let n = u.int_in_range(0usize..=16)?.min(u.len());
            let splice = u.bytes(n)?;
            let end = (at + splice.len()).min(payload.len());
            payload.splice(at..end, splice.iter().copied());
            true
        }
    };
    Ok((backend, offset, payload, (!mutated).then_some(original)))
}

/// The payload decoded by a second implementation of the backend's format,
/// if that one accepts it as exactly one page: liblz4 and `lz4_flex` check
/// each other; deflate is checked against `miniz_oxide`'s whole-buffer
/// inflate.
fn reference_decode(backend: Backend, payload: &[u8]) -> Option<Box<Page>> {
    let mut out = Box::new([0u8; PAGE_SIZE]);
    match backend {
        Backend::Lz4 => Backend::Lz4Flex
            .compressor()
            .decompress(payload, &mut out)
            .ok()?,
        Backend::Lz4Flex => Backend::Lz4
            .compressor()
            .decompress(payload, &mut out)
            .ok()?,
        Backend::Deflate => {
            let v = miniz_oxide::inflate::decompress_to_vec_with_limit(payload, PAGE_SIZE).ok()?;
            out.copy_from_slice(v.get(..PAGE_SIZE).filter(|_| v.len() == PAGE_SIZE)?);
        }
        // libzstd's one-shot decoder, not the per-thread context.
        Backend::Zstd(_) => {
            let v = zstd::bulk::decompress(payload, PAGE_SIZE).ok()?;
            out.copy_from_slice(v.get(..PAGE_SIZE).filter(|_| v.len() == PAGE_SIZE)?);
        }
        // No second LZO decoder in the dependency tree.
        #[cfg(feature = "lzo")]
        Backend::Lzo => return None,
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// zswap_ops
// ---------------------------------------------------------------------------

/// One operation of [`zswap_ops`].
#[derive(Debug)]
enum Op {
    Store(u64, Box<Page>),
    Load(u64, LoadMode),
    Invalidate(u64),
    InvalidateAll,
    Writeback(usize),
}

/// Pages written back, in order: (offset, page).
type Written = Vec<(u64, Box<Page>)>;

/// The log the writeback target of [`zswap_ops`]' tree appends to.
type WbLog = Mutex<Written>;

/// Whether [`zswap_ops`]' writeback target refuses to pin `offset`, as if a
/// swap-in held it: slot 7 of each region (one in eight of the offsets the
/// ops name) and the device's last slot.
fn held_by_swapin(offset: u64, nr_slots: u64) -> bool {
    offset % REGION_SLOTS == 7 || offset == nr_slots - 1
}

/// The writeback target of [`zswap_ops`]' tree: refuses the slots
/// [`held_by_swapin`] names, logs every write, and counts pins not yet
/// unpinned (0 after every operation).
struct Target {
    nr_slots: u64,
    log: Arc<WbLog>,
    pinned: Arc<AtomicI64>,
}

impl WritebackTarget for Target {
    fn pin(&self, offset: u64) -> bool {
        let ok = !held_by_swapin(offset, self.nr_slots);
        self.pinned.fetch_add(i64::from(ok), Relaxed);
        ok
    }

    fn write(&self, offset: u64, page: &Page) {
        assert!(
            self.pinned.load(Relaxed) > 0,
            "writeback wrote {offset} without a pin"
        );
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((offset, Box::new(*page)));
    }

    fn unpin(&self, _offset: u64) {
        self.pinned.fetch_sub(1, Relaxed);
    }
}

/// What [`Model::writeback_one`] did.
enum MWb {
    Empty,
    Written(u64, Box<Page>),
    Refused,
}

/// An entry of the sequential model.
#[derive(Debug)]
struct MEntry {
    page: Box<Page>,
    /// Insertion order: the LRU order of writeback.
    id: u64,
    /// Compressed length; `None` for a same-filled entry (never on the LRU).
    len: Option<usize>,
}

/// A sequential model of [`ZswapTree`]: the pages it holds, in LRU order,
/// the pool-limit hysteresis and every counter.
#[derive(Debug)]
struct Model {
    nr_slots: u64,
    config: Config,
    has_writeback: bool,
    entries: BTreeMap<u64, MEntry>,
    next_id: u64,
    reached_full: bool,
    stats: Stats,
}

impl Model {
    fn pool_bytes(&self) -> u64 {
        self.entries.values().filter_map(|e| e.len).sum::<usize>() as u64
    }

    fn erase(&mut self, offset: u64) -> Option<MEntry> {
        let e = self.entries.remove(&offset)?;
        self.stats.stored_pages -= 1;
        match e.len {
            None => self.stats.same_filled_pages -= 1,
            Some(len) => {
                self.stats.pool_bytes -= len as u64;
                self.stats.compressed_frees += 1;
            }
        }
        Some(e)
    }

    fn invalidate(&mut self, offset: u64) -> bool {
        let hit = self.erase(offset).is_some();
        self.stats.invalidations += u64::from(hit);
        hit
    }

    /// The oldest compressed entry is written back, or, if `pins` and
    /// [`held_by_swapin`] refuses its slot, moved to the LRU's tail.
    fn writeback_one(&mut self, pins: bool) -> MWb {
        let Some((&offset, _)) = self
            .entries
            .iter()
            .filter(|(_, e)| e.len.is_some())
            .min_by_key(|(_, e)| e.id)
        else {
            return MWb::Empty;
        };
        if pins && held_by_swapin(offset, self.nr_slots) {
            let id = self.next_id;
            self.next_id += 1;
            if let Some(e) = self.entries.get_mut(&offset) {
                e.id = id;
            }
            self.stats.writeback_refused += 1;
            return MWb::Refused;
        }
        let Some(e) = self.erase(offset) else {
            return MWb::Empty;
        };
        self.stats.writebacks += 1;
        MWb::Written(offset, e.page)
    }

    /// `shrink`: up to `n` entries through the pinning target, giving up
    /// after 16 refusals in a row; `None` for no limit on `n` (the pool
    /// limit's loop, which stops at the accept threshold instead).
    fn shrink(&mut self, n: Option<usize>, accept: Option<u64>, written: &mut Written) {
        let mut refused = 0;
        while refused < 16
            && n.is_none_or(|n| written.len() < n)
            && accept.is_none_or(|a| self.pool_bytes() > a)
        {
            match self.writeback_one(true) {
                MWb::Empty => break,
                MWb::Written(o, p) => {
                    written.push((o, p));
                    refused = 0;
                }
                MWb::Refused => refused += 1,
            }
        }
    }

    /// `make_room`; pushes the entries written back to `written`.
    fn make_room(&mut self, written: &mut Written) -> bool {
        let Some(max) = self.config.max_pool_bytes else {
            return true;
        };
        let pct = u64::from(self.config.accept_threshold_percent);
        let accept = max / 100 * pct + max % 100 * pct / 100;
        let bytes = self.pool_bytes();
        if bytes > max {
            self.stats.pool_limit_hit += 1;
            self.reached_full = true;
        } else if !self.reached_full || bytes <= accept {
            self.reached_full = false;
            return true;
        }
        if self.has_writeback {
            self.shrink(None, Some(accept), written);
        }
        if self.pool_bytes() <= accept {
            self.reached_full = false;
            true
        } else {
            false
        }
    }

    /// The store's outcome as the model predicts it, with the entries the
    /// pool limit wrote back.
    fn store(&mut self, offset: u64, page: &Page) -> (bool, Written) {
        let mut written = Vec::new();
        if offset >= self.nr_slots {
            return (false, written);
        }
        let len = if !self.make_room(&mut written) {
            self.stats.reject_pool_limit += 1;
            None
        } else if self.config.same_filled_pages && same_filled(page).is_some() {
            Some(None)
        } else {
            let len = compressed_len(self.config.backend, page);
            if len >= self.config.reject_len {
                self.stats.reject_compress_poor += 1;
                None
            } else {
                Some(Some(len))
            }
        };
        let Some(len) = len else {
            self.invalidate(offset);
            return (false, written);
        };
        let old = self.erase(offset);
        self.stats.duplicates += u64::from(old.is_some());
        self.stats.stores += 1;
        self.stats.stored_pages += 1;
        match len {
            None => self.stats.same_filled_pages += 1,
            Some(len) => self.stats.pool_bytes += len as u64,
        }
        let id = self.next_id;
        self.next_id += 1;
        self.entries.insert(
            offset,
            MEntry {
                page: Box::new(*page),
                id,
                len,
            },
        );
        (true, written)
    }
}

/// Runs an operation sequence (store, load in both modes, invalidate,
/// invalidate-all, writeback) on a [`ZswapTree`] and on a sequential model
/// holding the pages themselves. After every operation: the result and
/// every loaded or written-back page must be the model's, the stored
/// offsets and every statistic must match, and
/// [`ZswapTree::check_invariants`] must pass. Some inputs set a pool limit
/// (with or without a writeback target), a low reject threshold, or turn
/// same-filled detection off; offsets span several regions and the end of
/// the device.
///
/// # Panics
/// On any divergence: that is the bug the fuzzer looks for.
pub fn zswap_ops(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((nr_slots, config, has_writeback)) = ops_config(&mut u) else {
        return;
    };
    let wb_log: Arc<WbLog> = Arc::default();
    let pinned = Arc::new(AtomicI64::new(0));
    let zswap = if has_writeback {
        let target = Target {
            nr_slots,
            log: Arc::clone(&wb_log),
            pinned: Arc::clone(&pinned),
        };
        ZswapTree::with_writeback_target(nr_slots, config.clone(), target)
    } else {
        ZswapTree::new(nr_slots, config.clone())
    };
    let mut model = Model {
        nr_slots,
        config,
        has_writeback,
        entries: BTreeMap::new(),
        next_id: 0,
        reached_full: false,
        stats: Stats::default(),
    };
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < MAX_OPS {
        let Ok(op) = zswap_op(&mut u, nr_slots) else {
            break;
        };
        run_op(&zswap, &mut model, &wb_log, &op, ops.len());
        assert_eq!(
            pinned.load(Relaxed),
            0,
            "step {} ({op:?}): writeback pins left",
            ops.len()
        );
        ops.push(op);
    }
}

fn ops_config(u: &mut Unstructured<'_>) -> Result<(u64, Config, bool)> {
    let nr_slots = *u.choose(&[8, REGION_SLOTS + 8, 3 * REGION_SLOTS])?;
    let backend = *u.choose(&Backend::ALL)?;
    let same_filled_pages = !u.ratio(1, 8)?;
    let reject_len = *u.choose(&[PAGE_SIZE, PAGE_SIZE, 2 * PAGE_SIZE, 1024, 64, 0])?;
    let max_pool_bytes = if u.ratio(1, 2)? {
        Some(u.int_in_range(0u64..=12_000)?)
    } else {
        None
    };
    let accept_threshold_percent = *u.choose(&[90, 0, 50, 100])?;
    let has_writeback = u.arbitrary()?;
    let config = Config {
        backend,
        same_filled_pages,
        reject_len,
        max_pool_bytes,
        accept_threshold_percent,
    };
    Ok((nr_slots, config, has_writeback))
}

/// An offset near a region start or the device end: regions 0-3 (some past
/// the end), slots 0-7 of each; sometimes the last slot or anything.
fn offset(u: &mut Unstructured<'_>, nr_slots: u64) -> Result<u64> {
    Ok(match u.int_in_range(0u8..=15)? {
        0 => nr_slots - 1,
        1 => u.arbitrary()?,
        _ => u.int_in_range(0u64..=3)? * REGION_SLOTS + u.int_in_range(0u64..=7)?,
    })
}

fn zswap_op(u: &mut Unstructured<'_>, nr_slots: u64) -> Result<Op> {
    Ok(match u.int_in_range(0u8..=15)? {
        0..=5 => Op::Store(offset(u, nr_slots)?, page(u)?),
        6..=8 => Op::Load(offset(u, nr_slots)?, LoadMode::Optimistic),
        9..=11 => Op::Load(offset(u, nr_slots)?, LoadMode::Exclusive),
        12..=13 => Op::Invalidate(offset(u, nr_slots)?),
        14 => Op::Writeback(u.int_in_range(0usize..=4)?),
        _ => Op::InvalidateAll,
    })
}

fn run_op(zswap: &ZswapTree, model: &mut Model, wb_log: &WbLog, op: &Op, step: usize) {
    let at = |what: &str| format!("step {step} ({op:?}): {what}");
    let take_log = || std::mem::take(&mut *wb_log.lock().unwrap_or_else(|e| e.into_inner()));
    match op {
        Op::Store(offset, page) => {
            let got = zswap.store(*offset, page);
            let (want, written) = model.store(*offset, page);
            match (&got, want) {
                (Ok(()), true) => {}
                (Err(StoreError::OutOfRange { .. }), false) if *offset >= model.nr_slots => {}
                (Err(StoreError::CompressPoor { .. } | StoreError::PoolLimit { .. }), false)
                    if *offset < model.nr_slots => {}
                _ => panic!(
                    "{}",
                    at(&format!("store returned {got:?}, model accepts: {want}"))
                ),
            }
            let log = take_log();
            assert!(
                log == written,
                "{}",
                at(&format!(
                    "pool-limit writeback wrote {:?}, model {:?}",
                    offsets_of(&log),
                    offsets_of(&written)
                ))
            );
        }
        Op::Load(offset, mode) => {
            let mut out = Box::new([0xEEu8; PAGE_SIZE]);
            let got = zswap.load(*offset, &mut out, *mode);
            if *offset >= model.nr_slots {
                assert!(
                    matches!(got, Err(LoadError::OutOfRange { .. })),
                    "{}",
                    at(&format!("{got:?}"))
                );
            } else {
                let want = match mode {
                    LoadMode::Exclusive => model.erase(*offset).map(|e| e.page),
                    LoadMode::Optimistic => model.entries.get(offset).map(|e| e.page.clone()),
                };
                match &want {
                    Some(_) if *mode == LoadMode::Exclusive => model.stats.loads_exclusive += 1,
                    Some(_) => model.stats.loads_optimistic += 1,
                    None => model.stats.load_misses += 1,
                }
                assert_eq!(got, Ok(want.is_some()), "{}", at("load result"));
                if let Some(want) = want {
                    assert!(out == want, "{}", at("loaded the wrong page"));
                }
            }
        }
        Op::Invalidate(offset) => {
            let got = zswap.invalidate(*offset);
            let want = *offset < model.nr_slots && model.invalidate(*offset);
            assert_eq!(got, want, "{}", at("invalidate"));
        }
        Op::InvalidateAll => {
            let got = zswap.invalidate_all();
            let offsets: Vec<u64> = model.entries.keys().copied().collect();
            for o in &offsets {
                model.invalidate(*o);
            }
            assert_eq!(got, offsets.len(), "{}", at("invalidate_all"));
        }
        // With a target, through it (`shrink`: pins, refusals); else
        // `writeback`, which pins nothing.
        Op::Writeback(n) if model.has_writeback => {
            let got = zswap.shrink(*n);
            let log = take_log();
            let mut want = Vec::new();
            model.shrink(Some(*n), None, &mut want);
            assert_eq!(got, want.len(), "{}", at("shrink count"));
            same_writes(&log, &want, &at);
        }
        Op::Writeback(n) => {
            let mut log = Vec::new();
            let got = zswap.writeback(*n, |o, p| log.push((o, Box::new(*p))));
            let mut want = Vec::new();
            while want.len() < *n {
                match model.writeback_one(false) {
                    MWb::Written(o, p) => want.push((o, p)),
                    MWb::Empty | MWb::Refused => break,
                }
            }
            assert_eq!(got, want.len(), "{}", at("writeback count"));
            same_writes(&log, &want, &at);
        }
    }
    assert_eq!(
        zswap.offsets(),
        model.entries.keys().copied().collect::<Vec<_>>(),
        "{}",
        at("stored offsets")
    );
    assert_eq!(zswap.stats(), model.stats, "{}", at("statistics"));
    if let Err(e) = zswap.check_invariants() {
        panic!("{}", at(&format!("invariant: {e}")));
    }
}

/// The pages written back (`log`) must be the model's (`want`), in order.
fn same_writes(log: &Written, want: &Written, at: &dyn Fn(&str) -> String) {
    assert!(
        log == want,
        "{}",
        at(&format!(
            "wrote back {:?}, model {:?} (or different pages)",
            offsets_of(log),
            offsets_of(want)
        ))
    );
}

fn offsets_of(log: &[(u64, Box<Page>)]) -> Vec<u64> {
    log.iter().map(|(o, _)| o).copied().collect()
}
