//! Swap devices behind a trait: a zram-like compressed device, a ram disk
//! (brd) with an optional read delay, and a null device.

use std::fmt;
use std::time::Duration;

use zswap_tree::{Compressor, MAX_COMPRESSED, PAGE_SIZE, Page, fill_page, same_filled};

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
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::OutOfRange { slot } => write!(f, "slot {slot} beyond the device"),
            DeviceError::Corrupt { slot, why } => write!(f, "slot {slot}: corrupt data: {why}"),
            DeviceError::Write { slot, why } => write!(f, "slot {slot}: write failed: {why}"),
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
}

impl Counters {
    fn snapshot(&self) -> DeviceStats {
        DeviceStats {
            reads: self.reads.get(),
            writes: self.writes.get(),
            discards: self.discards.get(),
            empty_reads: self.empty_reads.get(),
            delayed_reads: self.delayed_reads.get(),
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
}

/// A zram-like device: pages compressed per slot with `zswap_tree`'s
/// compressor and same-filled detection, a lock per slot (`zram_slot_lock`),
/// synchronous, and discarding a slot's data when it is freed
/// (`zram_slot_free_notify`).
pub struct Zram {
    slots: Box<[Mutex<ZramSlot>]>,
    comp: &'static dyn Compressor,
    c: Counters,
}

impl fmt::Debug for Zram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Zram")
            .field("nr_slots", &self.slots.len())
            .field("compressor", &self.comp.name())
            .finish()
    }
}

impl Zram {
    /// A zram device of `nr_slots` slots with compressor `comp`.
    pub fn new(nr_slots: u64, comp: &'static dyn Compressor) -> Zram {
        Zram {
            slots: (0..nr_slots).map(|_| Mutex::new(ZramSlot::Empty)).collect(),
            comp,
            c: Counters::default(),
        }
    }

    fn slot(&self, slot: u64) -> Result<&Mutex<ZramSlot>, DeviceError> {
        self.slots
            .get(slot as usize)
            .ok_or(DeviceError::OutOfRange { slot })
    }

    /// Bytes held by the device (compressed data only).
    pub fn stored_bytes(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| match &*lock(s) {
                ZramSlot::Data(d) => d.len() as u64,
                ZramSlot::Huge(_) => PAGE_SIZE as u64,
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
        }
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
