//! Single-threaded correctness of every operation, for every strategy and
//! device: populate, page-out, swap-in (major and from the swap cache),
//! readahead, zap, fork, and the accounting after each.

use std::sync::Arc;

use fault_path::device::{NullDevice, Ramdisk, SwapDevice, Zram};
use fault_path::harness::check_accounting;
use fault_path::pte::PteKind;
use fault_path::strategy::{STRATEGIES, by_name, names};
use fault_path::{AddressSpace, FaultError, FaultStats, System, SystemConfig, index_word};

fn devices(slots: u64) -> Vec<Arc<dyn SwapDevice>> {
    vec![
        Arc::new(Zram::new(
            slots,
            zswap_tree::Backend::default().compressor(),
        )),
        Arc::new(Ramdisk::new(slots, None)),
    ]
}

fn setup(strategy: &str, dev: Arc<dyn SwapDevice>, pages: usize) -> (Arc<System>, AddressSpace) {
    let sys =
        System::new(SystemConfig::new(4 * pages as u32 + 64, dev).strategy(strategy)).unwrap();
    let mm = AddressSpace::new(Arc::clone(&sys), pages);
    mm.populate().unwrap();
    (sys, mm)
}

fn assert_clean(sys: &System, mms: &[&AddressSpace]) {
    let errs = check_accounting(sys, mms);
    assert!(errs.is_empty(), "accounting: {errs:#?}");
}

#[test]
fn registry() {
    assert_eq!(
        names(),
        vec![
            "bypass",
            "pin-retry",
            "pin-sleep",
            "pin-waitqueue",
            "sync-map",
            "swap-count",
            "pte-marker",
            "swapcache"
        ]
    );
    for s in STRATEGIES {
        assert_eq!(by_name(s.name()).unwrap().name(), s.name());
        assert!(!s.source().is_empty());
    }
    let dev: Arc<dyn SwapDevice> = Arc::new(NullDevice::new(8));
    let err = System::new(SystemConfig::new(8, dev).strategy("nope")).unwrap_err();
    assert_eq!(err, FaultError::UnknownStrategy("nope".into()));
    assert!(err.to_string().contains("pin-retry"));
}

#[test]
fn pageout_then_swapin_round_trip() {
    for s in names() {
        for dev in devices(64) {
            let name = dev.name();
            let (sys, mm) = setup(s, dev, 32);
            let mut st = FaultStats::default();
            for vpn in 0..32 {
                for _ in 0..=vpn % 3 {
                    mm.write(vpn, &mut st).unwrap();
                }
            }
            assert_eq!(mm.pageout(0..32, &mut st), Ok(32), "{s}/{name}");
            assert_eq!(st.pageouts, 32);
            for vpn in 0..32 {
                assert!(matches!(mm.pte(vpn).kind(), PteKind::Swap(_)), "{s}/{name}");
            }
            assert_eq!(sys.swap_map().stats().inuse_slots, 32);
            assert_eq!(sys.frames().stats().in_use, 0, "{s}/{name}: frames freed");
            assert_eq!(sys.nr_cached_folios(), 0);
            assert_clean(&sys, &[&mm]);
            // Swap back in, every page, and check the contents.
            for vpn in 0..32 {
                assert_eq!(
                    mm.read_word(vpn, 1, &mut st),
                    Ok(index_word(vpn)),
                    "{s}/{name}"
                );
                assert_eq!(
                    mm.read_word(vpn, 0, &mut st),
                    Ok(1 + vpn as u64 % 3),
                    "{s}/{name}"
                );
            }
            assert_eq!(st.faults, st.major + st.minor, "{s}/{name}: {st:?}");
            assert_eq!(st.retries, 0);
            assert_eq!(
                sys.swap_map().stats().inuse_slots,
                0,
                "{s}/{name}: slots freed"
            );
            assert_eq!(sys.slots_freed(), 32);
            if name == "zram" {
                assert_eq!(sys.device().stats().discards, 32, "zram discards on free");
            }
            assert_clean(&sys, &[&mm]);
        }
    }
}

#[test]
fn swapcache_path_reads_ahead() {
    let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(64, None));
    let (sys, mm) = setup("swapcache", dev, 16);
    let mut st = FaultStats::default();
    mm.pageout(0..16, &mut st).unwrap();
    assert_eq!(mm.read_word(0, 1, &mut st), Ok(index_word(0)));
    // Slots are allocated in order from slot 1 (slot 0 is the header), so
    // page 0's slot 1 has the aligned window 0..8: slots 2..8 hold pages
    // 1..7, read ahead into the swap cache.
    assert_eq!(st.major, 1);
    assert_eq!(st.readahead, 6, "{st:?}");
    assert_eq!(sys.nr_cached_folios() as u64, st.readahead);
    let reads = sys.device().stats().reads;
    for vpn in 1..7 {
        assert_eq!(mm.read_word(vpn, 1, &mut st), Ok(index_word(vpn)));
    }
    assert_eq!(
        sys.device().stats().reads,
        reads,
        "served by the swap cache"
    );
    assert_eq!(st.minor, 6);
    assert_eq!(sys.nr_cached_folios(), 0, "mapped folios left the cache");
    assert_clean(&sys, &[&mm]);
    // Zapping pages whose folios sit in the swap cache frees both.
    mm.dontneed(0..16);
    assert_eq!(sys.nr_cached_folios(), 0);
    assert_eq!(sys.swap_map().stats().inuse_slots, 0);
    assert_clean(&sys, &[&mm]);
}

#[test]
fn dontneed_frees_frames_and_slots() {
    for s in names() {
        let dev: Arc<dyn SwapDevice> =
            Arc::new(Zram::new(64, zswap_tree::Backend::default().compressor()));
        let (sys, mm) = setup(s, dev, 16);
        let mut st = FaultStats::default();
        mm.pageout(0..8, &mut st).unwrap();
        mm.dontneed(4..12); // 4 swapped, 4 present
        for vpn in 4..12 {
            assert_eq!(mm.pte(vpn).kind(), PteKind::None);
        }
        assert_eq!(sys.swap_map().stats().inuse_slots, 4); // pages 0..4
        assert_eq!(sys.frames().stats().in_use, 4); // pages 12..16
        assert_clean(&sys, &[&mm]);
        // A zapped page faults back as a zero page.
        assert_eq!(mm.read_word(5, 1, &mut st), Ok(0));
        assert_eq!(st.anon, 1);
        assert_clean(&sys, &[&mm]);
    }
}

#[test]
fn fork_shares_swap_entries_and_copies_pages() {
    for s in names() {
        let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(64, None));
        let (sys, mut mm) = setup(s, dev, 8);
        let mut st = FaultStats::default();
        mm.pageout(0..4, &mut st).unwrap();
        let child = mm.fork().unwrap();
        for vpn in 0..4 {
            let PteKind::Swap(slot) = mm.pte(vpn).kind() else {
                panic!()
            };
            assert_eq!(child.pte(vpn), mm.pte(vpn));
            assert_eq!(sys.swap_map().count(slot), Ok(2));
        }
        assert_clean(&sys, &[&mm, &child]);
        // The child writes; the parent must not see it (private memory).
        for vpn in 0..8 {
            child.write(vpn, &mut st).unwrap();
        }
        for vpn in 0..8 {
            assert_eq!(
                mm.read_word(vpn, 0, &mut st),
                Ok(0),
                "{s}: parent page {vpn}"
            );
            assert_eq!(
                child.read_word(vpn, 0, &mut st),
                Ok(1),
                "{s}: child page {vpn}"
            );
            assert_eq!(mm.read_word(vpn, 1, &mut st), Ok(index_word(vpn)));
        }
        assert_clean(&sys, &[&mm, &child]);
        drop(child);
        assert_clean(&sys, &[&mm]);
        assert_eq!(sys.swap_map().stats().inuse_slots, 0, "{s}");
    }
}

#[test]
fn swap_full_and_out_of_range() {
    let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(5, None)); // 4 usable slots
    let (sys, mm) = setup("pin-retry", dev, 8);
    let mut st = FaultStats::default();
    assert_eq!(mm.pageout(0..8, &mut st), Err(FaultError::SwapFull));
    assert_eq!(st.pageouts, 4);
    assert_clean(&sys, &[&mm]);
    assert_eq!(
        mm.write(8, &mut st),
        Err(FaultError::OutOfRange { vpn: 8, pages: 8 })
    );
    assert!(mm.read_word(0, fault_path::frame::WORDS, &mut st).is_err());
}

#[test]
fn out_of_memory_is_an_error() {
    let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(16, None));
    let sys = System::new(SystemConfig::new(4, dev).strategy("swapcache")).unwrap();
    let mm = AddressSpace::new(Arc::clone(&sys), 8);
    assert_eq!(mm.populate(), Err(FaultError::NoMemory));
}

#[test]
fn drop_returns_everything() {
    for s in names() {
        let dev: Arc<dyn SwapDevice> =
            Arc::new(Zram::new(64, zswap_tree::Backend::default().compressor()));
        let (sys, mm) = setup(s, dev, 16);
        let mut st = FaultStats::default();
        mm.pageout(0..12, &mut st).unwrap();
        mm.read_word(3, 0, &mut st).unwrap();
        drop(mm);
        assert_eq!(sys.frames().stats().in_use, 0, "{s}");
        assert_eq!(sys.swap_map().stats().inuse_slots, 0, "{s}");
        assert_eq!(sys.nr_cached_folios(), 0, "{s}");
    }
}

fn zswap_setup(
    strategy: &str,
    load: fault_path::ZswapLoad,
    pool: Option<u64>,
    pages: usize,
) -> (Arc<System>, AddressSpace) {
    let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(64, None));
    let mut cfg = SystemConfig::new(4 * pages as u32 + 64, dev).strategy(strategy);
    cfg.zswap = Some(fault_path::ZswapConfig {
        load,
        tree: zswap_tree::Config {
            max_pool_bytes: pool,
            ..zswap_tree::Config::default()
        },
    });
    let sys = System::new(cfg).unwrap();
    let mm = AddressSpace::new(Arc::clone(&sys), pages);
    mm.populate().unwrap();
    (sys, mm)
}

#[test]
fn zswap_stores_loads_and_invalidates() {
    for load in [
        fault_path::ZswapLoad::Exclusive,
        fault_path::ZswapLoad::ExclusiveIfCached,
    ] {
        for s in names() {
            let (sys, mm) = zswap_setup(s, load, None, 16);
            let mut st = FaultStats::default();
            for vpn in 0..16 {
                mm.write(vpn, &mut st).unwrap();
            }
            mm.pageout(0..16, &mut st).unwrap();
            let z = sys.zswap().unwrap();
            assert_eq!(z.stats().stored_pages, 16, "{s}");
            assert_eq!(sys.device().stats().writes, 0, "{s}: zswap took every page");
            for vpn in 0..16 {
                assert_eq!(mm.read_word(vpn, 0, &mut st), Ok(1), "{s} {load:?}");
                assert_eq!(mm.read_word(vpn, 1, &mut st), Ok(index_word(vpn)), "{s}");
            }
            assert_eq!(sys.device().stats().reads, 0, "{s}: every read hit zswap");
            // Whether loaded exclusively or optimistically, freeing the slot
            // leaves nothing behind (zswap_invalidate on swap_free).
            assert_eq!(z.stats().stored_pages, 0, "{s} {load:?}");
            assert_clean(&sys, &[&mm]);
        }
    }
}

#[test]
// Under loom and shuttle a frame has two words, and the fill loop is empty.
#[cfg_attr(any(loom, shuttle), allow(clippy::reversed_empty_ranges))]
fn zswap_writes_back_under_the_pool_limit() {
    // Pages that do not compress well: half random.
    let (sys, mm) = zswap_setup(
        "pin-retry",
        fault_path::ZswapLoad::Exclusive,
        Some(8 * 1024),
        16,
    );
    let mut st = FaultStats::default();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for vpn in 0..16 {
        mm.access(vpn, &mut st, |f, fr| {
            for w in 2..fault_path::frame::WORDS / 2 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                f.set_word(fr, w, x);
            }
        })
        .unwrap();
    }
    mm.pageout(0..16, &mut st).unwrap();
    let z = sys.zswap().unwrap().stats();
    // The limit is checked before a store is added (zswap_is_full), so the
    // pool may exceed it by one compressed page.
    assert!(z.pool_bytes <= 8 * 1024 + 4096, "{z:?}");
    assert!(z.writebacks > 0, "{z:?}");
    assert_eq!(
        sys.device().stats().writes,
        z.writebacks + z.reject_pool_limit
    );
    for vpn in 0..16 {
        assert_eq!(mm.read_word(vpn, 1, &mut st), Ok(index_word(vpn)));
    }
    assert_clean(&sys, &[&mm]);
}
