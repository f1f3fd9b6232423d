//! Fuzz-target logic, compiled with the `fuzzing` feature.
//!
//! The cargo-fuzz target `fault_path_ops` (in the workspace's `fuzz/`
//! directory) is a one-line call to [`fault_path_ops`]; the crate's
//! `tests/fuzz_replay.rs` calls the same function on every committed input
//! under `fuzz/corpus/fault_path_ops/` and
//! `fuzz/regressions/fault_path_ops/`, so stable `cargo test` replays what
//! the fuzzer found.

use std::sync::Arc;
use std::time::Duration;

use arbitrary::{Result, Unstructured};

use crate::accounting::check_accounting;
use crate::device::{NullDevice, Ramdisk, SwapDevice, Zram};
use crate::pte::PteKind;
use crate::strategy::STRATEGIES;
use crate::{
    AddressSpace, FaultError, FaultStats, System, SystemConfig, ZswapConfig, ZswapLoad, index_word,
};

/// Most simulated threads in one input.
pub const MAX_THREADS: usize = 4;
/// Most operations in one simulated thread's sequence.
pub const MAX_OPS_PER_THREAD: usize = 32;
/// Most live address spaces; a fork beyond it exits the child at once.
pub const MAX_SPACES: usize = 4;

/// One operation of a simulated thread. `mm` picks a live address space
/// (modulo their number); `vpn` is reduced modulo its size unless it is
/// deliberately out of range.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// A read fault/access: words 0 and 1 are compared with the shadow.
    Read { mm: u8, vpn: u8 },
    /// A write fault/access: word 0 goes up by one.
    Write { mm: u8, vpn: u8 },
    /// `MADV_PAGEOUT` of `len` pages from `vpn`.
    Pageout { mm: u8, vpn: u8, len: u8 },
    /// `MADV_DONTNEED` of `len` pages from `vpn`.
    Dontneed { mm: u8, vpn: u8, len: u8 },
    /// `fork`: the child joins the live address spaces.
    Fork { mm: u8 },
    /// `exit`: the address space is dropped (never the last one).
    Exit { mm: u8 },
    /// An access beyond the address space: must be `OutOfRange`.
    OutOfRange { mm: u8, past: u8 },
    /// Enables the large folio orders of `mask` (bits 1-3, reduced to what
    /// the clusters hold) from now on ([`System::set_orders`]).
    SetOrders { mask: u8 },
}

/// An address space and its shadow: for each page, the expected word 0
/// (the write counter) and word 1 ([`index_word`], or 0 on a zero page).
struct Space {
    mm: AddressSpace,
    shadow: Vec<(u64, u64)>,
}

#[derive(Debug)]
enum DeviceKind {
    Zram(zswap_tree::Backend),
    Ramdisk,
    Null,
}

/// Decodes `data` into a machine, a few address spaces and up to
/// [`MAX_THREADS`] simulated threads, each with its own sequence of
/// operations (read and write faults, page-out, `MADV_DONTNEED`, fork,
/// exit), and runs the threads' operations one at a time in the order the
/// rest of the input chooses (then round-robin). The machine is small so
/// that swap exhaustion, memory exhaustion, slot reuse and readahead all
/// happen: a device of 2-32 slots (zram with any compressor, with
/// multi-page objects on odd slot counts, a ram disk, or the null device),
/// 2-48 frames, clusters of 2-512 slots, any readahead
/// window, sometimes zswap in front (either load mode, sometimes a tiny
/// pool limit), and any strategy.
///
/// An operation kind of 32-39 enables large folio orders from then on
/// (kinds below 32 decode as before they were added, so the committed seeds
/// keep their meaning): populate-time folios stay order 0, and faults,
/// page-outs and swap-ins after it work on large folios.
///
/// After every operation [`check_accounting`] over every live address space
/// must find nothing, and every page read must hold what the shadow model
/// says (except on the null device, which loses data by design).
/// `NoMemory` and `SwapFull` are acceptable results; any other error, any
/// panic, an accounting violation or a wrong page is a bug.
///
/// # Panics
/// On any of those bugs: that is what the fuzzer looks for.
pub fn fault_path_ops(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((cfg, kind, pages, spaces)) = machine(&mut u) else {
        return;
    };
    let desc = format!("{cfg:?} device {kind:?}, {pages} pages");
    let lossless = !matches!(kind, DeviceKind::Null);
    let sys = match System::new(cfg) {
        Ok(sys) => sys,
        Err(e) => panic!("the decoder built a bad configuration: {e}: {desc}"),
    };
    let mut live: Vec<Space> = Vec::new();
    for populate in spaces {
        let mm = AddressSpace::new(Arc::clone(&sys), pages);
        let mut shadow = vec![(0, 0); pages];
        if populate {
            match mm.populate() {
                Ok(()) | Err(FaultError::NoMemory) => {}
                Err(e) => panic!("populate: {e}: {desc}"),
            }
            // After a NoMemory the first pages are populated.
            let present = (0..pages)
                .take_while(|&v| matches!(mm.pte(v).kind(), PteKind::Present(_)))
                .count();
            for (vpn, s) in shadow.iter_mut().enumerate().take(present) {
                *s = (0, index_word(vpn));
            }
        }
        live.push(Space { mm, shadow });
        check(&sys, &live, &|| format!("{desc}: after populate"));
    }
    let Ok(threads) = thread_ops(&mut u) else {
        return;
    };
    let mut stats = vec![FaultStats::default(); threads.len()];
    let mut next = vec![0usize; threads.len()];
    let total: usize = threads.iter().map(Vec::len).sum();
    let mut step = 0;
    let mut rr = 0;
    while step < total {
        // The input picks the thread; once it runs out, round-robin.
        let mut t = if u.is_empty() {
            rr += 1;
            rr % threads.len()
        } else {
            usize::from(u.arbitrary::<u8>().unwrap_or(0)) % threads.len()
        };
        while next[t] == threads[t].len() {
            t = (t + 1) % threads.len();
        }
        let op = threads[t][next[t]];
        next[t] += 1;
        // Formatted only when something fails (the machine's description
        // is long: formatting it every step cost more than the step).
        let at = || format!("{desc}: step {step}, thread {t}, {op:?}");
        run_op(&sys, &mut live, op, &mut stats[t], lossless, &at);
        check(&sys, &live, &at);
        step += 1;
    }
    // Exit everything: the accounting must still hold (only swap-cache
    // folios may keep frames).
    drop(live);
    check(&sys, &[], &|| format!("{desc}: after every exit"));
    drop(sys);
    reclaim();
}

/// Runs the global epoch collector's deferred frees (the xarray swap cache
/// retires its nodes there) until this input's garbage is gone. Otherwise
/// each input ends with more allocations than frees, and libFuzzer then
/// runs LeakSanitizer's whole-heap scan after every input (finding
/// nothing: the garbage is reachable from the collector), which took half
/// of the target's time.
fn reclaim() {
    // A bag is freed two epoch advances after it is sealed; each flush
    // seals this thread's bag, advances the epoch if it can (no other
    // thread is pinned in a fuzz run) and frees the expired bags.
    for _ in 0..4 {
        swapcache::epoch::pin().flush();
    }
}

fn check(sys: &System, live: &[Space], at: &dyn Fn() -> String) {
    let mms: Vec<&AddressSpace> = live.iter().map(|s| &s.mm).collect();
    let errs = check_accounting(sys, &mms);
    assert!(errs.is_empty(), "{}: accounting: {errs:#?}", at());
}

fn pick(live: &[Space], mm: u8) -> Option<usize> {
    (!live.is_empty()).then(|| usize::from(mm) % live.len())
}

fn run_op(
    sys: &System,
    live: &mut Vec<Space>,
    op: Op,
    st: &mut FaultStats,
    lossless: bool,
    at: &dyn Fn() -> String,
) {
    match op {
        Op::SetOrders { mask } => {
            // The largest order the machine holds, and the largest the
            // decoder enables (the address spaces have at most 12 pages).
            let max = sys
                .swap_map()
                .max_order()
                .min(crate::frame::MAX_FOLIO_ORDER);
            let orders = u32::from(mask) & ((2 << max.min(3)) - 1);
            if let Err(e) = sys.set_orders(orders) {
                panic!("{}: set_orders({orders:#b}): {e}", at());
            }
            // Beyond the largest order: refused, nothing changed.
            let before = sys.orders();
            assert!(sys.set_orders(1 << (max + 1)).is_err(), "{}", at());
            assert_eq!(sys.orders(), before, "{}", at());
        }
        Op::Read { mm, vpn } => {
            let Some(i) = pick(live, mm) else { return };
            let s = &mut live[i];
            let vpn = usize::from(vpn) % s.shadow.len();
            match s.mm.access(vpn, st, |f, fr| (f.word(fr, 0), f.word(fr, 1))) {
                Ok(words) => {
                    if lossless {
                        assert_eq!(words, s.shadow[vpn], "{}: page {vpn} of space {i}", at());
                    } else {
                        // The null device reads zeros: resynchronise.
                        s.shadow[vpn] = words;
                    }
                }
                Err(FaultError::NoMemory) => {}
                Err(e) => panic!("{}: read: {e}", at()),
            }
        }
        Op::Write { mm, vpn } => {
            let Some(i) = pick(live, mm) else { return };
            let s = &mut live[i];
            let vpn = usize::from(vpn) % s.shadow.len();
            match s.mm.write(vpn, st) {
                Ok(()) => s.shadow[vpn].0 = s.shadow[vpn].0.wrapping_add(1),
                Err(FaultError::NoMemory) => {}
                Err(e) => panic!("{}: write: {e}", at()),
            }
        }
        Op::Pageout { mm, vpn, len } => {
            let Some(i) = pick(live, mm) else { return };
            let s = &mut live[i];
            let start = usize::from(vpn) % s.shadow.len();
            match s.mm.pageout(start..start + usize::from(len), st) {
                Ok(n) => assert!(n <= usize::from(len), "{}: {n} pages written", at()),
                Err(FaultError::SwapFull) => {}
                Err(e) => panic!("{}: pageout: {e}", at()),
            }
        }
        Op::Dontneed { mm, vpn, len } => {
            let Some(i) = pick(live, mm) else { return };
            let s = &mut live[i];
            let start = usize::from(vpn) % s.shadow.len();
            let end = (start + usize::from(len)).min(s.shadow.len());
            s.mm.dontneed(start..end);
            // A zapped page faults back as a zero page.
            s.shadow[start..end].fill((0, 0));
        }
        Op::Fork { mm } => {
            let Some(i) = pick(live, mm) else { return };
            let s = &mut live[i];
            match s.mm.fork() {
                Ok(child) => {
                    let shadow = s.shadow.clone();
                    if live.len() < MAX_SPACES {
                        live.push(Space { mm: child, shadow });
                    }
                }
                Err(FaultError::NoMemory) => {}
                Err(e) => panic!("{}: fork: {e}", at()),
            }
        }
        Op::Exit { mm } => {
            if live.len() > 1
                && let Some(i) = pick(live, mm)
            {
                live.swap_remove(i);
            }
        }
        Op::OutOfRange { mm, past } => {
            let Some(i) = pick(live, mm) else { return };
            let s = &live[i];
            let vpn = s.shadow.len() + usize::from(past);
            let r = s.mm.read_word(vpn, 0, st);
            assert!(
                matches!(r, Err(FaultError::OutOfRange { .. })),
                "{}: read of page {vpn}: {r:?}",
                at()
            );
        }
    }
}

type Machine = (SystemConfig, DeviceKind, usize, Vec<bool>);

/// The machine: device, frames, cluster size, readahead, zswap, strategy;
/// the pages per address space; and which initial spaces are populated.
fn machine(u: &mut Unstructured<'_>) -> Result<Machine> {
    let strategy = u.choose(STRATEGIES)?.name();
    let nr_slots = u.int_in_range(2u64..=32)?;
    let kind = match u.int_in_range(0u8..=3)? {
        0..=1 => DeviceKind::Zram(*u.choose(&zswap_tree::Backend::ALL)?),
        2 => DeviceKind::Ramdisk,
        _ => DeviceKind::Null,
    };
    let device: Arc<dyn SwapDevice> = match kind {
        // zram machines with an odd slot count store a large folio's
        // page-out as multi-page objects of 2 or 4 pages (the 2024 RFC),
        // chosen from the slot count so that older inputs decode as they
        // did; without large folios (op kinds 32-39) nothing writes a run
        // long enough, so those inputs also run as they did.
        DeviceKind::Zram(b) if nr_slots % 2 == 1 => Arc::new(
            Zram::new(nr_slots, b.compressor())
                .multi_pages(1 + (nr_slots / 2) as u32 % 2)
                .expect("orders 1 and 2 are within Zram::MAX_MULTI_ORDER"),
        ),
        DeviceKind::Zram(b) => Arc::new(Zram::new(nr_slots, b.compressor())),
        DeviceKind::Ramdisk => Arc::new(Ramdisk::new(nr_slots, None)),
        DeviceKind::Null => Arc::new(NullDevice::new(nr_slots)),
    };
    let mut cfg = SystemConfig::new(u.int_in_range(2u32..=48)?, device).strategy(strategy);
    cfg.cluster_size = *u.choose(&[2, 4, 8, 512])?;
    cfg.readahead = *u.choose(&[8, 0, 1, 2, 4])?;
    // Nothing waits in a sequential run; a zero tick keeps a wrong wait
    // from sleeping.
    cfg.tick = Duration::ZERO;
    if u.ratio(1u8, 3)? {
        let load = *u.choose(&[ZswapLoad::ExclusiveIfCached, ZswapLoad::Exclusive])?;
        let tree = zswap_tree::Config {
            backend: *u.choose(&zswap_tree::Backend::ALL)?,
            max_pool_bytes: if u.arbitrary()? {
                Some(u.int_in_range(0u64..=4096)?)
            } else {
                None
            },
            ..zswap_tree::Config::default()
        };
        cfg.zswap = Some(ZswapConfig { load, tree });
        // Half the zswap machines take the 2026 RFC's rule (a range all in
        // zswap comes back as a large folio), chosen by the slot count's
        // parity so that inputs from before the rule decode as they did.
        if nr_slots % 2 == 0 {
            cfg.zswap_large = crate::ZswapLarge::AllInZswap;
        }
    }
    // Both swap caches: the swap table (default) and the xarray.
    if u.ratio(1u8, 3)? {
        cfg.swap_cache = crate::SwapCacheKind::XArray;
    }
    let pages = u.int_in_range(1usize..=12)?;
    let nr_spaces = u.int_in_range(1usize..=3)?;
    let mut spaces = Vec::with_capacity(nr_spaces);
    for _ in 0..nr_spaces {
        spaces.push(!u.ratio(1u8, 4)?);
    }
    Ok((cfg, kind, pages, spaces))
}

fn thread_ops(u: &mut Unstructured<'_>) -> Result<Vec<Vec<Op>>> {
    let n = u.int_in_range(1usize..=MAX_THREADS)?;
    let mut threads = Vec::with_capacity(n);
    for _ in 0..n {
        let len = u.int_in_range(0usize..=MAX_OPS_PER_THREAD)?;
        let mut ops = Vec::with_capacity(len);
        for _ in 0..len {
            ops.push(op(u)?);
        }
        threads.push(ops);
    }
    Ok(threads)
}

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    // Kinds 0-31 decode as before large folios (kinds 32-39).
    let kind = u.int_in_range(0u8..=39)?;
    if kind >= 32 {
        return Ok(Op::SetOrders {
            mask: u.arbitrary()?,
        });
    }
    let mm = u.arbitrary()?;
    Ok(match kind {
        0..=8 => Op::Read {
            mm,
            vpn: u.arbitrary()?,
        },
        9..=17 => Op::Write {
            mm,
            vpn: u.arbitrary()?,
        },
        18..=23 => Op::Pageout {
            mm,
            vpn: u.arbitrary()?,
            len: u.int_in_range(1u8..=12)?,
        },
        24..=26 => Op::Dontneed {
            mm,
            vpn: u.arbitrary()?,
            len: u.int_in_range(1u8..=12)?,
        },
        27..=28 => Op::Fork { mm },
        29..=30 => Op::Exit { mm },
        _ => Op::OutOfRange {
            mm,
            past: u.int_in_range(0u8..=3)?,
        },
    })
}
