//! Swap devices behind a trait: a zram-like compressed device, a ram disk
//! (brd) with an optional read delay, and a null device.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use zswap_tree::{
    Compressor, MAX_COMPRESSED, PAGE_SIZE, Page, fill_page, max_compressed_len, same_filled,
};

use crate::sync::{Counter, Mutex, lock};

/// An I/O error of a swap device (the swap-in then fails with `SIGBUS`, as
/// `do_swap_page` does for a folio that is not uptodate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The slot is beyond the device.
    OutOfRange {
        /// The slot.
        slot: u64,
    },
    /// The stored data does not decompress to a page.
    Corrupt {
        /// The slot.
        slot: u64,
        /// What went wrong.
        why: String,
    },
    /// The page could not be stored.
    Write {
        /// The slot.
        slot: u64,
        /// What went wrong.
        why: String,
    },
    /// A device option is out of range.
    Config {
        /// What is wrong.
        why: String,
    },
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::OutOfRange { slot } => write!(f, "slot {slot} beyond the device"),
            DeviceError::Corrupt { slot, why } => write!(f, "slot {slot}: corrupt data: {why}"),
            DeviceError::Write { slot, why } => write!(f, "slot {slot}: write failed: {why}"),
            DeviceError::Config { why } => write!(f, "device option: {why}"),
        }
    }
}

impl std::error::Error for DeviceError {}

/// I/O counters of a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DeviceStats {
    /// Pages read.
    pub reads: u64,
    /// Pages written.
    pub writes: u64,
    /// Slots discarded on free (`swap_slot_free_notify`).
    pub discards: u64,
    /// Reads of a slot that holds no data (discarded or never written):
    /// the page reads as zeros, as zram returns for an unallocated slot.
    pub empty_reads: u64,
    /// Reads that were delayed to widen race windows.
    pub delayed_reads: u64,
    /// Multi-page objects written (zram with [`Zram::multi_pages`]).
    pub multi_writes: u64,
    /// Multi-page objects read whole, by a read of their run.
    pub multi_reads: u64,
    /// Reads of one page of a multi-page object, each of which decompressed
    /// the whole object.
    pub multi_partial_reads: u64,
}

/// A swap device (`struct block_device` under a swap area).
pub trait SwapDevice: Send + Sync + fmt::Debug {
    /// A short name ("zram", "ramdisk", "null").
    fn name(&self) -> &'static str;
    /// Slots on the device.
    fn nr_slots(&self) -> u64;
    /// `SWP_SYNCHRONOUS_IO`: reads complete in the caller, so the fault path
    /// may skip the swap cache (zram, brd, pmem).
    fn synchronous(&self) -> bool;
    /// Reads slot `slot` into `page` (`swap_read_folio`). Returns `false`
    /// when the device transfers no data at all (the null device), so the
    /// caller leaves the frame as it is.
    fn read(&self, slot: u64, page: &mut Page) -> Result<bool, DeviceError>;
    /// Writes `page` to slot `slot` (`swap_writepage`).
    fn write(&self, slot: u64, page: &Page) -> Result<(), DeviceError>;
    /// Writes the pages of a large folio to the slots from `slot`
    /// (`swap_writepage` of a large folio: one request for the folio).
    /// Default: page by page.
    fn write_run(&self, slot: u64, pages: &[Page]) -> Result<(), DeviceError> {
        for (i, p) in pages.iter().enumerate() {
            self.write(slot + i as u64, p)?;
        }
        Ok(())
    }
    /// Reads the slots from `slot` into the pages of a large folio
    /// (`swap_read_folio` of a large folio). Returns `false` when the
    /// device transfers no data (the null device). Default: page by page.
    fn read_run(&self, slot: u64, pages: &mut [Page]) -> Result<bool, DeviceError> {
        let mut copied = true;
        for (i, p) in pages.iter_mut().enumerate() {
            copied &= self.read(slot + i as u64, p)?;
        }
        Ok(copied)
    }
    /// The slot was freed: drop its data (`swap_slot_free_notify`; only
    /// zram implements it, brd keeps stale data).
    fn discard(&self, slot: u64);
    /// The I/O counters.
    fn stats(&self) -> DeviceStats;
}

#[derive(Default, Debug)]
struct Counters {
    reads: Counter,
    writes: Counter,
    discards: Counter,
    empty_reads: Counter,
    delayed_reads: Counter,
    multi_writes: Counter,
    multi_reads: Counter,
    multi_partial_reads: Counter,
}

impl Counters {
    fn snapshot(&self) -> DeviceStats {
        DeviceStats {
            reads: self.reads.get(),
            writes: self.writes.get(),
            discards: self.discards.get(),
            empty_reads: self.empty_reads.get(),
            delayed_reads: self.delayed_reads.get(),
            multi_writes: self.multi_writes.get(),
            multi_reads: self.multi_reads.get(),
            multi_partial_reads: self.multi_partial_reads.get(),
        }
    }
}

fn bump(c: &Counter) {
    c.bump();
}

/// What a zram slot holds (`zram->table[index]`).
enum ZramSlot {
    Empty,
    /// `ZRAM_SAME`: a page of one repeated word.
    Same(u64),
    /// Compressed bytes.
    Data(Box<[u8]>),
    /// `ZRAM_HUGE`: a page that does not compress below a page, kept raw.
    Huge(Box<Page>),
    /// Page `.1` of a multi-page object, shared by the slots of its run.
    Multi(Arc<MultiObject>, u32),
}

/// A run of pages compressed as one object (the 2024 zsmalloc/zram
/// multi-page RFC, Tangquan Zheng and Barry Song:
/// `ZSMALLOC_MULTI_PAGES_ORDER`). Immutable once written; it is dropped
/// when the last slot of its run is overwritten or discarded, so a partly
/// freed run keeps its whole object, as the RFC's zsmalloc does.
struct MultiObject {
    /// The compressed run, or the raw run when it does not compress below
    /// its own size (the multi-page `ZRAM_HUGE`).
    data: Box<[u8]>,
    raw: bool,
    /// Pages in the run.
    nr: u32,
}

impl MultiObject {
    /// Decompresses the whole run into `dst` (`nr` pages).
    fn decode(&self, comp: &dyn Compressor, dst: &mut [u8], slot: u64) -> Result<(), DeviceError> {
        if self.raw {
            dst.copy_from_slice(&self.data);
            return Ok(());
        }
        comp.decompress_bytes(&self.data, dst)
            .map_err(|e| DeviceError::Corrupt {
                slot,
                why: e.to_string(),
            })
    }
}

/// A zram-like device: pages compressed per slot with `zswap_tree`'s
/// compressor and same-filled detection, a lock per slot (`zram_slot_lock`),
/// synchronous, and discarding a slot's data when it is freed
/// (`zram_slot_free_notify`).
///
/// With [`Zram::multi_pages`] (off by default, as upstream) a large folio
/// is compressed in objects of `2^order` pages (see [`Zram::multi_pages`]).
pub struct Zram {
    slots: Box<[Mutex<ZramSlot>]>,
    comp: &'static dyn Compressor,
    /// `ZSMALLOC_MULTI_PAGES_ORDER`, 0 when off.
    multi_order: u32,
    c: Counters,
}

impl fmt::Debug for Zram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Zram")
            .field("nr_slots", &self.slots.len())
            .field("compressor", &self.comp.name())
            .field("multi_order", &self.multi_order)
            .finish()
    }
}

impl Zram {
    /// A zram device of `nr_slots` slots with compressor `comp`.
    pub fn new(nr_slots: u64, comp: &'static dyn Compressor) -> Zram {
        Zram {
            slots: (0..nr_slots).map(|_| Mutex::new(ZramSlot::Empty)).collect(),
            comp,
            multi_order: 0,
            c: Counters::default(),
        }
    }

    /// The largest multi-page object order [`Zram::multi_pages`] takes (64
    /// KiB objects; the RFC measured 64 KiB).
    pub const MAX_MULTI_ORDER: u32 = 4;

    /// Multi-page compression (Tangquan Zheng / Barry Song, 2024 RFC
    /// "mTHP-friendly compression in zsmalloc and zram based on
    /// multi-pages", `ZSMALLOC_MULTI_PAGES_ORDER`): a write of a run of at
    /// least `2^order` pages ([`SwapDevice::write_run`], a large folio's
    /// page-out) stores each aligned `2^order`-page chunk as one compressed
    /// object; a read of the chunk decompresses it once, a read of one of
    /// its pages decompresses the whole object and keeps one page (the
    /// RFC's cost for an order-0 swap-in of such a page). Order 0 turns it
    /// off (the default). Runs shorter than an object, unaligned runs and
    /// chunks whose pages are all same-filled are stored page by page.
    /// Orders above [`Zram::MAX_MULTI_ORDER`] are refused.
    pub fn multi_pages(mut self, order: u32) -> Result<Zram, DeviceError> {
        if order > Self::MAX_MULTI_ORDER {
            return Err(DeviceError::Config {
                why: format!("multi-page order {order} above {}", Self::MAX_MULTI_ORDER),
            });
        }
        self.multi_order = order;
        Ok(self)
    }

    /// A run of `n` slots from `slot` must lie on the device: checked
    /// before any of it is written.
    fn check_run(&self, slot: u64, n: usize) -> Result<(), DeviceError> {
        match slot.checked_add(n as u64) {
            Some(end) if end <= self.slots.len() as u64 => Ok(()),
            _ => Err(DeviceError::OutOfRange { slot }),
        }
    }

    /// The multi-page object order (0: off).
    pub fn multi_order(&self) -> u32 {
        self.multi_order
    }

    /// Compresses one aligned chunk of `2^multi_order` pages into an object
    /// and stores it in the chunk's slots.
    fn write_object(&self, slot: u64, chunk: &[Page]) -> Result<(), DeviceError> {
        let bytes = chunk.as_flattened();
        let mut buf = vec![0u8; max_compressed_len(bytes.len())];
        let (data, raw): (Box<[u8]>, bool) = match self.comp.compress_bytes(bytes, &mut buf) {
            Ok(n) if n < bytes.len() => (buf[..n].into(), false),
            Ok(_) | Err(zswap_tree::CompressError::OutputTooSmall) => (bytes.into(), true),
            Err(e) => {
                return Err(DeviceError::Write {
                    slot,
                    why: e.to_string(),
                });
            }
        };
        let obj = Arc::new(MultiObject {
            data,
            raw,
            nr: chunk.len() as u32,
        });
        bump(&self.c.multi_writes);
        for i in 0..chunk.len() as u64 {
            bump(&self.c.writes);
            *lock(self.slot(slot + i)?) = ZramSlot::Multi(Arc::clone(&obj), i as u32);
        }
        Ok(())
    }

    /// The object at `slot` if it is the first page of a multi-page object
    /// whose every page is still in place and that fits in `room` pages.
    fn whole_object(&self, slot: u64, room: usize) -> Option<Arc<MultiObject>> {
        let obj = match &*lock(self.slot(slot).ok()?) {
            ZramSlot::Multi(o, 0) if o.nr as usize <= room => Arc::clone(o),
            _ => return None,
        };
        let intact = (1..obj.nr).all(|i| {
            self.slot(slot + u64::from(i)).is_ok_and(
                |c| matches!(&*lock(c), ZramSlot::Multi(o, k) if *k == i && Arc::ptr_eq(o, &obj)),
            )
        });
        intact.then_some(obj)
    }

    fn slot(&self, slot: u64) -> Result<&Mutex<ZramSlot>, DeviceError> {
        self.slots
            .get(slot as usize)
            .ok_or(DeviceError::OutOfRange { slot })
    }

    /// Bytes held by the device (compressed data only; a multi-page
    /// object counts once).
    pub fn stored_bytes(&self) -> u64 {
        let mut objects = std::collections::HashSet::new();
        self.slots
            .iter()
            .map(|s| match &*lock(s) {
                ZramSlot::Data(d) => d.len() as u64,
                ZramSlot::Huge(_) => PAGE_SIZE as u64,
                ZramSlot::Multi(o, _) if objects.insert(Arc::as_ptr(o)) => o.data.len() as u64,
                _ => 0,
            })
            .sum()
    }
}

impl SwapDevice for Zram {
    fn name(&self) -> &'static str {
        "zram"
    }

    fn nr_slots(&self) -> u64 {
        self.slots.len() as u64
    }

    fn synchronous(&self) -> bool {
        true
    }

    /// `zram_read_page`: decompress, fill a same page, or zeros for an
    /// empty slot.
    fn read(&self, slot: u64, page: &mut Page) -> Result<bool, DeviceError> {
        let cell = self.slot(slot)?;
        bump(&self.c.reads);
        let s = lock(cell);
        match &*s {
            ZramSlot::Empty => {
                bump(&self.c.empty_reads);
                page.fill(0);
                Ok(true)
            }
            ZramSlot::Same(v) => {
                fill_page(page, *v);
                Ok(true)
            }
            ZramSlot::Data(d) => {
                self.comp
                    .decompress(d, page)
                    .map(|()| true)
                    .map_err(|e| DeviceError::Corrupt {
                        slot,
                        why: e.to_string(),
                    })
            }
            ZramSlot::Huge(p) => {
                page.copy_from_slice(&p[..]);
                Ok(true)
            }
            ZramSlot::Multi(o, i) => {
                let (o, i) = (Arc::clone(o), *i as usize);
                drop(s);
                bump(&self.c.multi_partial_reads);
                with_run_buffer(o.nr as usize * PAGE_SIZE, |run| {
                    o.decode(self.comp, run, slot)?;
                    page.copy_from_slice(&run[i * PAGE_SIZE..(i + 1) * PAGE_SIZE]);
                    Ok(true)
                })
            }
        }
    }

    /// A large folio's page-out: aligned `2^order`-page chunks as one
    /// object each when [`Zram::multi_pages`] is on, else page by page.
    fn write_run(&self, slot: u64, pages: &[Page]) -> Result<(), DeviceError> {
        self.check_run(slot, pages.len())?;
        let per = 1usize << self.multi_order;
        let mut i = 0;
        while i < pages.len() {
            let s = slot + i as u64;
            let chunk = pages
                .get(i..i + per)
                .filter(|_| self.multi_order > 0 && s.is_multiple_of(per as u64));
            match chunk {
                Some(c) if !c.iter().all(|p| same_filled(p).is_some()) => {
                    self.write_object(s, c)?;
                    i += per;
                }
                _ => {
                    self.write(s, &pages[i])?;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// A large folio's read: each intact multi-page object of the run is
    /// decompressed once, straight into the folio; other pages one by one.
    fn read_run(&self, slot: u64, pages: &mut [Page]) -> Result<bool, DeviceError> {
        self.check_run(slot, pages.len())?;
        let mut i = 0;
        while i < pages.len() {
            let s = slot + i as u64;
            if self.multi_order > 0
                && let Some(o) = self.whole_object(s, pages.len() - i)
            {
                let n = o.nr as usize;
                bump(&self.c.multi_reads);
                for _ in 0..n {
                    bump(&self.c.reads);
                }
                o.decode(self.comp, pages[i..i + n].as_flattened_mut(), s)?;
                i += n;
                continue;
            }
            self.read(s, &mut pages[i])?;
            i += 1;
        }
        Ok(true)
    }

    /// `zram_write_page`: same-filled pages are kept as one word; others are
    /// compressed (incompressible pages are stored raw, as `ZRAM_HUGE`).
    fn write(&self, slot: u64, page: &Page) -> Result<(), DeviceError> {
        let cell = self.slot(slot)?;
        bump(&self.c.writes);
        let new = match same_filled(page) {
            Some(v) => ZramSlot::Same(v),
            None => {
                let mut buf = [0u8; MAX_COMPRESSED];
                match self.comp.compress(page, &mut buf) {
                    Ok(n) if n < PAGE_SIZE => ZramSlot::Data(buf[..n].into()),
                    Ok(_) => ZramSlot::Huge(Box::new(*page)),
                    Err(e) => {
                        return Err(DeviceError::Write {
                            slot,
                            why: e.to_string(),
                        });
                    }
                }
            }
        };
        *lock(cell) = new;
        Ok(())
    }

    fn discard(&self, slot: u64) {
        if let Ok(cell) = self.slot(slot) {
            bump(&self.c.discards);
            *lock(cell) = ZramSlot::Empty;
        }
    }

    fn stats(&self) -> DeviceStats {
        self.c.snapshot()
    }
}

/// Runs `f` on a zeroed-once buffer of `len` bytes, kept per thread (the
/// decompression buffer of a one-page read of a multi-page object, as
/// zram's per-CPU stream buffer): a fresh 64 KiB allocation per read would
/// cost more than the decompression (first-touch faults after the heap
/// top is trimmed). Reentrant calls get a fresh buffer.
fn with_run_buffer<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    std::thread_local! {
        static RUN: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    RUN.with(|b| match b.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0u8; len]),
    })
}

/// A delay injected into device reads, to widen race windows as the
/// patched brd of the swap-stress-race reproducer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadDelay {
    /// How long a delayed read sleeps after copying the data (the copy is
    /// then stale for that long).
    pub duration: Duration,
    /// One read in `every` is delayed (1 = every read), chosen by a
    /// seeded hash of the read's sequence number.
    pub every: u32,
    /// Seed of that choice.
    pub seed: u64,
}

/// A ram disk (`brd`): uncompressed pages, synchronous, no discard on free
/// (stale data stays readable), with an optional read delay.
pub struct Ramdisk {
    slots: Box<[Mutex<Option<Box<Page>>>]>,
    delay: Option<ReadDelay>,
    c: Counters,
}

impl fmt::Debug for Ramdisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ramdisk")
            .field("nr_slots", &self.slots.len())
            .field("delay", &self.delay)
            .finish()
    }
}

impl Ramdisk {
    /// A ram disk of `nr_slots` slots.
    pub fn new(nr_slots: u64, delay: Option<ReadDelay>) -> Ramdisk {
        Ramdisk {
            slots: (0..nr_slots).map(|_| Mutex::new(None)).collect(),
            delay,
            c: Counters::default(),
        }
    }
}

/// splitmix64: a seeded hash for the delay choice.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl SwapDevice for Ramdisk {
    fn name(&self) -> &'static str {
        "ramdisk"
    }

    fn nr_slots(&self) -> u64 {
        self.slots.len() as u64
    }

    fn synchronous(&self) -> bool {
        true
    }

    fn read(&self, slot: u64, page: &mut Page) -> Result<bool, DeviceError> {
        let cell = self
            .slots
            .get(slot as usize)
            .ok_or(DeviceError::OutOfRange { slot })?;
        let n = self.c.reads.bump();
        match &*lock(cell) {
            Some(p) => page.copy_from_slice(&p[..]),
            None => {
                bump(&self.c.empty_reads);
                page.fill(0);
            }
        }
        if let Some(d) = self.delay
            && mix(n ^ d.seed).is_multiple_of(u64::from(d.every.max(1)))
        {
            bump(&self.c.delayed_reads);
            crate::sync::sleep(d.duration);
        }
        Ok(true)
    }

    fn write(&self, slot: u64, page: &Page) -> Result<(), DeviceError> {
        let cell = self
            .slots
            .get(slot as usize)
            .ok_or(DeviceError::OutOfRange { slot })?;
        bump(&self.c.writes);
        let mut s = lock(cell);
        match &mut *s {
            Some(p) => p.copy_from_slice(page),
            None => *s = Some(Box::new(*page)),
        }
        Ok(())
    }

    /// brd has no `swap_slot_free_notify`: freed slots keep their data.
    fn discard(&self, _slot: u64) {}

    fn stats(&self) -> DeviceStats {
        self.c.snapshot()
    }
}

/// A device that stores nothing and reads zeros: the fault path's own cost,
/// without I/O (the "metadata-only fault").
#[derive(Debug)]
pub struct NullDevice {
    nr_slots: u64,
    c: Counters,
}

impl NullDevice {
    /// A null device of `nr_slots` slots.
    pub fn new(nr_slots: u64) -> NullDevice {
        NullDevice {
            nr_slots,
            c: Counters::default(),
        }
    }
}

impl SwapDevice for NullDevice {
    fn name(&self) -> &'static str {
        "null"
    }

    fn nr_slots(&self) -> u64 {
        self.nr_slots
    }

    fn synchronous(&self) -> bool {
        true
    }

    fn read(&self, slot: u64, _page: &mut Page) -> Result<bool, DeviceError> {
        if slot >= self.nr_slots {
            return Err(DeviceError::OutOfRange { slot });
        }
        bump(&self.c.reads);
        Ok(false)
    }

    fn write(&self, slot: u64, _page: &Page) -> Result<(), DeviceError> {
        if slot >= self.nr_slots {
            return Err(DeviceError::OutOfRange { slot });
        }
        bump(&self.c.writes);
        Ok(())
    }

    fn discard(&self, _slot: u64) {
        bump(&self.c.discards);
    }

    fn stats(&self) -> DeviceStats {
        self.c.snapshot()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;
    // lz4_flex, not liblz4, should miri run these; it skips them (the
    // device has no unsafe code, and 16-page compression is slow there).
    use zswap_tree::{Backend, ContentClass};

    /// `n` pages of `class`, page `i` seeded with `seed + i`.
    fn run(class: ContentClass, seed: u64, n: usize) -> Vec<Page> {
        (0..n)
            .map(|i| {
                let mut p = [0u8; PAGE_SIZE];
                class.fill(seed + i as u64, &mut p);
                p
            })
            .collect()
    }

    fn zram(order: u32) -> Zram {
        Zram::new(64, Backend::Lz4Flex.compressor())
            .multi_pages(order)
            .unwrap()
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn multi_page_objects_round_trip_whole_and_by_page() {
        let dev = zram(4);
        let pages = run(ContentClass::Text, 7, 16);
        dev.write_run(16, &pages).unwrap();
        assert_eq!(dev.stats().multi_writes, 1);
        assert_eq!(dev.stats().writes, 16);
        let mut back = vec![[0u8; PAGE_SIZE]; 16];
        assert_eq!(dev.read_run(16, &mut back), Ok(true));
        assert!(back == pages);
        assert_eq!(dev.stats().multi_reads, 1);
        // One page of the object: the whole object is decompressed.
        let mut p = [0u8; PAGE_SIZE];
        dev.read(21, &mut p).unwrap();
        assert_eq!(p, pages[5]);
        assert_eq!(dev.stats().multi_partial_reads, 1);
        // One object, stored once, smaller than the pages one by one.
        let per_page = Zram::new(64, Backend::Lz4Flex.compressor());
        per_page.write_run(16, &pages).unwrap();
        assert_eq!(per_page.stats().multi_writes, 0);
        assert!(dev.stored_bytes() < per_page.stored_bytes());
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_rewritten_or_discarded_page_keeps_the_rest_of_its_object() {
        let dev = zram(2);
        let mut pages = run(ContentClass::HalfRandom, 3, 8);
        dev.write_run(8, &pages).unwrap();
        assert_eq!(dev.stats().multi_writes, 2);
        let bytes = dev.stored_bytes();
        // Slot 9 rewritten alone: object 8-11 is no longer intact, so a run
        // read takes its pages one by one; object 12-15 is read whole.
        pages[1] = run(ContentClass::Text, 99, 1)[0];
        dev.write(9, &pages[1]).unwrap();
        dev.discard(10);
        pages[2] = [0u8; PAGE_SIZE];
        let mut back = vec![[1u8; PAGE_SIZE]; 8];
        dev.read_run(8, &mut back).unwrap();
        assert!(back == pages);
        assert_eq!(dev.stats().multi_reads, 1);
        assert_eq!(dev.stats().empty_reads, 1);
        // The partly freed object still holds its memory; freeing the
        // rest of it drops it.
        assert!(dev.stored_bytes() >= bytes);
        dev.discard(8);
        dev.discard(11);
        let left: u64 = dev.stored_bytes();
        assert!(left < bytes, "{left} >= {bytes}");
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn short_unaligned_and_same_filled_runs_are_stored_page_by_page() {
        let dev = zram(2);
        let pages = run(ContentClass::Text, 1, 6);
        // Slots 5-10: 5-7 unaligned, 8-11 would cross the run's end at 10.
        dev.write_run(5, &pages).unwrap();
        assert_eq!(dev.stats().multi_writes, 0);
        dev.write_run(16, &[[0u8; PAGE_SIZE]; 4]).unwrap();
        assert_eq!(dev.stats().multi_writes, 0);
        assert_eq!(dev.stored_bytes(), {
            let d = Zram::new(64, Backend::Lz4Flex.compressor());
            d.write_run(5, &pages).unwrap();
            d.stored_bytes()
        });
        let mut back = vec![[0u8; PAGE_SIZE]; 6];
        dev.read_run(5, &mut back).unwrap();
        assert!(back == pages);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn incompressible_objects_are_kept_raw_and_bad_orders_refused() {
        let dev = zram(2);
        let pages = run(ContentClass::Random, 5, 4);
        dev.write_run(4, &pages).unwrap();
        assert_eq!(dev.stored_bytes(), 4 * PAGE_SIZE as u64);
        let mut back = vec![[0u8; PAGE_SIZE]; 4];
        dev.read_run(4, &mut back).unwrap();
        assert!(back == pages);
        let mut p = [0u8; PAGE_SIZE];
        dev.read(7, &mut p).unwrap();
        assert_eq!(p, pages[3]);
        let err =
            Zram::new(8, Backend::Lz4Flex.compressor()).multi_pages(Zram::MAX_MULTI_ORDER + 1);
        assert!(matches!(err, Err(DeviceError::Config { .. })));
        // A run beyond the device is an error, and nothing of it is
        // written.
        assert!(matches!(
            dev.write_run(62, &run(ContentClass::Text, 0, 4)),
            Err(DeviceError::OutOfRange { .. })
        ));
        assert_eq!(dev.stored_bytes(), 4 * PAGE_SIZE as u64);
        assert!(dev.read_run(u64::MAX, &mut back).is_err());
    }
}
