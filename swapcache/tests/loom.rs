//! loom models of the tree's publication and reclamation protocol, with
//! 4-slot nodes.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! -p swapcache --test loom`.
//!
//! Each model creates its own epoch `Collector` and each model thread
//! registers its own handle of it (see "Loom" in the crate docs): the epoch
//! protocol runs for real, atomically between loom's scheduling points.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use swapcache::epoch::{Collector, LocalHandle};
use swapcache::{Entry, FANOUT, Item, SwapCache, ValueEntry, XArray};

const F: u64 = FANOUT as u64;

/// A value whose contents loom tracks: reading it from a thread that has no
/// happens-before edge to its initialisation is a reported causality
/// violation, so a reader cannot silently see a half-initialised value.
struct Payload {
    data: UnsafeCell<u64>,
}

// SAFETY: `data` is written only when the payload is created, before it is
// published; afterwards every access is a read (and loom checks that claim).
unsafe impl Sync for Payload {}

impl Payload {
    fn new(v: u64) -> Self {
        Payload {
            data: UnsafeCell::new(v),
        }
    }

    fn read(&self) -> u64 {
        // SAFETY: no one writes after creation (see the `Sync` impl).
        self.data.with(|p| unsafe { *p })
    }
}

/// A value that records its own drop, so that a reader can check it was not
/// freed while it still holds a reference.
struct Canary {
    value: u64,
    freed: Arc<AtomicBool>,
}

impl Canary {
    fn new(value: u64, freed: &Arc<AtomicBool>) -> Canary {
        Canary {
            value,
            freed: freed.clone(),
        }
    }
}

/// Inserts a height-2 tree of two canaries: index 1 (value 1, kept) in
/// leaf 0 and index `F + 1` (value `second`) in leaf 1. Returns their
/// freed flags, (kept, second).
fn two_canaries(
    xa: &XArray<Box<Canary>>,
    main: &LocalHandle,
    second: u64,
) -> (Arc<AtomicBool>, Arc<AtomicBool>) {
    let keep_freed = Arc::new(AtomicBool::new(false));
    let freed = Arc::new(AtomicBool::new(false));
    let g = main.pin();
    xa.insert(1, Box::new(Canary::new(1, &keep_freed)), &g)
        .unwrap();
    xa.insert(F + 1, Box::new(Canary::new(second, &freed)), &g)
        .unwrap();
    (keep_freed, freed)
}

/// After the last guard: the removed canary is freed (once, by its Drop),
/// the kept one is not.
fn assert_reclaimed(main: &LocalHandle, freed: &AtomicBool, keep_freed: &AtomicBool) {
    collect(main);
    assert!(freed.load(Ordering::SeqCst), "retired value never freed");
    assert!(!keep_freed.load(Ordering::SeqCst));
}

impl Drop for Canary {
    fn drop(&mut self) {
        assert!(!self.freed.swap(true, Ordering::SeqCst), "double free");
    }
}

/// Drives the model's collector until everything retired can be freed.
fn collect(handle: &LocalHandle) {
    for _ in 0..8 {
        handle.pin().flush();
    }
}

fn spawn_with_handle<R: Send + 'static>(
    collector: &Collector,
    f: impl FnOnce(&LocalHandle) -> R + Send + 'static,
) -> thread::JoinHandle<R> {
    let collector = collector.clone();
    thread::spawn(move || {
        let handle = collector.register();
        f(&handle)
    })
}

/// Scenario 1: a reader racing with an insert sees either nothing or the
/// fully initialised value. The writer inserts twice: into the existing leaf
/// (only the entry's own Release store publishes it), then at an index that
/// grows the tree (a new root and a new leaf are published). The entry
/// already present stays visible throughout.
#[test]
fn reader_against_insert() {
    loom::model(|| {
        let collector = Collector::new();
        let main = collector.register();
        let xa = Arc::new(XArray::with_collector(collector.clone()));
        xa.insert(1, Box::new(Payload::new(10)), &main.pin())
            .unwrap();

        let writer = {
            let xa = xa.clone();
            spawn_with_handle(&collector, move |h| {
                xa.insert(2, Box::new(Payload::new(20)), &h.pin()).unwrap();
                xa.insert(F + 2, Box::new(Payload::new(42)), &h.pin())
                    .unwrap();
            })
        };

        let g = main.pin();
        for (index, want) in [(F + 2, 42), (2, 20)] {
            match xa.load(index, &g) {
                None => {}
                Some(Entry::Ptr(p)) => assert_eq!(p.read(), want),
                Some(Entry::Value(_)) => panic!("a value entry appeared"),
            }
        }
        let one = xa
            .load(1, &g)
            .and_then(Entry::as_ptr)
            .expect("index 1 vanished");
        assert_eq!(one.read(), 10);
        drop(g);

        writer.join().unwrap();
        let g = main.pin();
        assert_eq!(
            xa.load(F + 2, &g)
                .and_then(Entry::as_ptr)
                .map(Payload::read),
            Some(42)
        );
    });
}

/// Scenario 2: a reader racing with a remove and the reclamation that
/// follows never uses a freed value. The remove also prunes a leaf and
/// shrinks the root, retiring both nodes while the reader may be inside them.
#[test]
fn reader_against_remove_and_reclaim() {
    loom::model(|| {
        let collector = Collector::new();
        let main = collector.register();
        let xa = Arc::new(XArray::with_collector(collector.clone()));
        let (keep_freed, freed) = two_canaries(&xa, &main, 7);

        let remover = {
            let xa = xa.clone();
            spawn_with_handle(&collector, move |h| {
                let removed = xa
                    .remove(F + 1, &h.pin())
                    .and_then(Entry::as_ptr)
                    .map(|c| c.value);
                assert_eq!(removed, Some(7));
                collect(h);
            })
        };

        let g = main.pin();
        if let Some(Entry::Ptr(c)) = xa.load(F + 1, &g) {
            // The check comes before the dereference, and again after a
            // scheduling point: the remover may run in between.
            assert!(
                !freed.load(Ordering::SeqCst),
                "value freed under a pinned reader"
            );
            assert_eq!(c.value, 7);
            thread::yield_now();
            assert!(
                !freed.load(Ordering::SeqCst),
                "value freed under a pinned reader"
            );
        }
        let one = xa
            .load(1, &g)
            .and_then(Entry::as_ptr)
            .expect("index 1 vanished");
        assert_eq!(one.value, 1);
        drop(g);

        remover.join().unwrap();
        // Once every guard is gone, the retired value is freed, once.
        assert_reclaimed(&main, &freed, &keep_freed);
        assert_eq!(xa.len(), 1);
    });
}

/// Scenario 3: of two inserters at one index exactly one wins; the loser
/// gets its value back. The entries are unowned indices (`u32`): nothing is
/// allocated or retired.
#[test]
fn two_inserters_one_index() {
    loom::model(|| {
        let collector = Collector::new();
        let xa = Arc::new(XArray::with_collector(collector.clone()));
        let inserters: Vec<_> = (0..2u64)
            .map(|t| {
                let xa = xa.clone();
                spawn_with_handle(&collector, move |h| {
                    match xa.insert(F + 1, t as u32, &h.pin()) {
                        Ok(()) => true,
                        Err(e) => {
                            assert_eq!(e.index, F + 1);
                            assert_eq!(e.into_item(), Item::Ptr(t as u32));
                            false
                        }
                    }
                })
            })
            .collect();
        let wins: Vec<bool> = inserters.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(wins.iter().filter(|&&w| w).count(), 1, "{wins:?}");
        let winner = wins.iter().position(|&w| w).unwrap() as u64;
        let main = collector.register();
        let g = main.pin();
        assert_eq!(
            xa.load(F + 1, &g).and_then(Entry::as_ptr),
            Some(winner as u32)
        );
        assert_eq!(xa.len(), 1);
    });
}

/// Scenario 4: a remove that shrinks the tree races with an insert at the
/// neighbouring index, which then has to grow it again (or, in the other
/// order, keeps the tree tall so that the remove does not shrink it), under
/// a reader. The reader always sees the untouched entry, and sees the
/// raced ones either absent or complete.
#[test]
fn remove_and_neighbouring_insert_while_height_changes() {
    loom::model(|| {
        let collector = Collector::new();
        let main = collector.register();
        let xa = Arc::new(XArray::with_collector(collector.clone()));
        {
            let g = main.pin();
            // Height 2 with 4-slot nodes: index 1 in leaf 0, index F in leaf 1.
            xa.insert(1, Box::new(Payload::new(1)), &g).unwrap();
            xa.insert(F, Box::new(Payload::new(F)), &g).unwrap();
        }

        let remover = {
            let xa = xa.clone();
            spawn_with_handle(&collector, move |h| {
                assert_eq!(
                    xa.remove(F, &h.pin())
                        .and_then(Entry::as_ptr)
                        .map(Payload::read),
                    Some(F)
                );
            })
        };
        let inserter = {
            let xa = xa.clone();
            spawn_with_handle(&collector, move |h| {
                xa.insert(F + 1, Box::new(Payload::new(F + 1)), &h.pin())
                    .unwrap();
            })
        };

        let g = main.pin();
        for index in [F + 1, F] {
            if let Some(p) = xa.load(index, &g).and_then(Entry::as_ptr) {
                assert_eq!(p.read(), index);
            }
        }
        assert_eq!(
            xa.load(1, &g).and_then(Entry::as_ptr).map(Payload::read),
            Some(1)
        );
        drop(g);

        remover.join().unwrap();
        inserter.join().unwrap();
        let g = main.pin();
        let left: Vec<(u64, u64)> = xa
            .iter(&g)
            .map(|(i, e)| (i, e.as_ptr().map_or(u64::MAX, Payload::read)))
            .collect();
        assert_eq!(left, vec![(1, 1), (F + 1, F + 1)]);
        assert_eq!(xa.len(), 2);
    });
}

/// Scenario 5: nodes retired by a remove (a pruned leaf, a shrunk root) are
/// reused by the next insert of the same writer once the collector lets
/// them go, at the same offsets, so that a reader still inside a recycled
/// node would find the new entry under the old index. The reader must see
/// the removed index absent or holding its own (unfreed) value, and the new
/// one absent or complete.
#[test]
fn reader_against_node_reuse() {
    loom::model(|| {
        let collector = Collector::new();
        let main = collector.register();
        let xa = Arc::new(XArray::with_collector(collector.clone()));
        let (keep_freed, freed) = two_canaries(&xa, &main, F + 1);

        let new_freed = Arc::new(AtomicBool::new(false));
        let writer = {
            let xa = xa.clone();
            let new_freed = new_freed.clone();
            spawn_with_handle(&collector, move |h| {
                // Prunes leaf 1 and shrinks the root: both retired.
                assert!(xa.remove(F + 1, &h.pin()).is_some());
                collect(h);
                // Grows again: a root and a leaf, from the cache if the
                // collector has let the retired ones go. The new entry sits
                // at the removed entry's offsets (root slot 2, leaf slot 1).
                let value = Box::new(Canary::new(2 * F + 1, &new_freed));
                xa.insert(2 * F + 1, value, &h.pin()).unwrap();
            })
        };

        let g = main.pin();
        for index in [F + 1, 2 * F + 1] {
            if let Some(c) = xa.load(index, &g).and_then(Entry::as_ptr) {
                assert_eq!(c.value, index, "index {index} shows another entry");
                thread::yield_now();
                if index == F + 1 {
                    assert!(
                        !freed.load(Ordering::SeqCst),
                        "value freed under a pinned reader"
                    );
                }
                assert_eq!(c.value, index);
            }
        }
        assert_eq!(
            xa.load(1, &g).and_then(Entry::as_ptr).map(|c| c.value),
            Some(1)
        );
        drop(g);

        writer.join().unwrap();
        let g = main.pin();
        let left: Vec<(u64, u64)> = xa
            .iter(&g)
            .map(|(i, e)| (i, e.as_ptr().map_or(u64::MAX, |c| c.value)))
            .collect();
        assert_eq!(left, vec![(1, 1), (2 * F + 1, 2 * F + 1)]);
        drop(g);
        assert_reclaimed(&main, &freed, &keep_freed);
        assert!(!new_freed.load(Ordering::SeqCst));
    });
}

/// Scenario 6: reclamation of a shared entry (`XArray<Arc<T>>`). A reader
/// borrows the entry (`ArcRef`) and takes a strong count of its own
/// (`to_arc`, the model of `folio_try_get`) while a writer replaces it and
/// then removes the replacement, collecting in between. The tree's count of
/// each entry is dropped only after the grace period: the `T` is never
/// freed while the reader borrows it, the reader's own `Arc` keeps it alive
/// after its guard is gone, and every `T` is freed exactly once at the end.
#[test]
fn arc_entry_reclamation() {
    loom::model(|| {
        let collector = Collector::new();
        let main = collector.register();
        let xa: Arc<XArray<std::sync::Arc<Canary>>> =
            Arc::new(XArray::with_collector(collector.clone()));
        let first_freed = Arc::new(AtomicBool::new(false));
        let second_freed = Arc::new(AtomicBool::new(false));
        xa.insert(
            F + 1,
            std::sync::Arc::new(Canary::new(1, &first_freed)),
            &main.pin(),
        )
        .unwrap();

        let writer = {
            let xa = xa.clone();
            let second_freed = second_freed.clone();
            spawn_with_handle(&collector, move |h| {
                let second = std::sync::Arc::new(Canary::new(2, &second_freed));
                {
                    let g = h.pin();
                    let old = xa.store(F + 1, second, &g);
                    assert_eq!(old.and_then(Entry::as_ptr).map(|c| c.value), Some(1));
                }
                collect(h);
                {
                    // Prunes the leaf and shrinks the root too.
                    let g = h.pin();
                    let removed = xa.remove(F + 1, &g).and_then(Entry::as_ptr);
                    assert_eq!(removed.map(|c| c.value), Some(2));
                }
                collect(h);
            })
        };

        let g = main.pin();
        let mine = xa.load(F + 1, &g).and_then(Entry::as_ptr).map(|r| {
            let flag = if r.value == 1 {
                &first_freed
            } else {
                &second_freed
            };
            assert!(
                !flag.load(Ordering::SeqCst),
                "entry freed under a pinned reader"
            );
            let own = r.to_arc();
            thread::yield_now();
            assert!(
                !flag.load(Ordering::SeqCst),
                "entry freed under a pinned reader"
            );
            assert!(r.ptr_eq(&own));
            own
        });
        drop(g);
        thread::yield_now();
        if let Some(own) = &mine {
            // The reader's own count outlives its guard.
            let flag = if own.value == 1 {
                &first_freed
            } else {
                &second_freed
            };
            assert!(
                !flag.load(Ordering::SeqCst),
                "entry freed while the reader owns a count"
            );
        }
        drop(mine);

        writer.join().unwrap();
        collect(&main);
        assert!(xa.is_empty());
        assert!(
            first_freed.load(Ordering::SeqCst),
            "first entry never freed"
        );
        assert!(
            second_freed.load(Ordering::SeqCst),
            "second entry never freed"
        );
    });
}

/// What a reader saw at an index of the raced range, in the order the
/// range's states follow each other: empty, the large folio, the shadow its
/// delete left.
fn rank(cache: &SwapCache<u32>, offset: u64, g: &swapcache::epoch::Guard) -> u8 {
    match cache.get_entry(offset, g) {
        None => 0,
        Some(Entry::Ptr(50)) => 1,
        Some(Entry::Value(s)) if s.get() == 9 => 2,
        other => panic!("offset {offset} holds {other:?}"),
    }
}

/// Scenario 7: a large-folio add (2 slots, into a leaf that already holds
/// another entry, so that the leaf is copied) races with a single-index
/// reader and with the delete of the same range (leaving shadows). The
/// reader looks the two slots up alternately; whatever it sees must follow
/// the range's states in order (empty, folio, shadow) from one lookup to
/// the next: seeing the folio at one slot and then not at the other (or the
/// shadow and then the folio) would be half a range. (Negative control,
/// checked by hand: storing the range slot by slot into the live leaf, as
/// the kernel's `xas_store` loop does, fails with `[0, 1, 0, 1]`.)
#[test]
fn range_add_against_reader_and_delete() {
    loom::model(|| {
        let collector = Collector::new();
        let main = collector.register();
        let cache: Arc<SwapCache<u32>> =
            Arc::new(SwapCache::with_collector(4 * F, collector.clone()));
        cache.add(F + 3, 1, &main.pin()).unwrap();

        let adder = {
            let cache = cache.clone();
            spawn_with_handle(&collector, move |h| {
                cache.add_range(F, 2, 50, &h.pin()).unwrap();
            })
        };
        let deleter = {
            let cache = cache.clone();
            spawn_with_handle(&collector, move |h| {
                let g = h.pin();
                // Before the add this finds nothing and changes nothing.
                cache
                    .delete_range(F, 2, 50, Some(ValueEntry::new(9).unwrap()), &g)
                    .is_ok()
            })
        };

        let g = main.pin();
        let seen: Vec<u8> = [F + 1, F, F + 1, F]
            .iter()
            .map(|&o| rank(&cache, o, &g))
            .collect();
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]),
            "half a range seen: {seen:?}"
        );
        assert_eq!(cache.get(F + 3, &g), Some(1));
        drop(g);

        adder.join().unwrap();
        let deleted = deleter.join().unwrap();
        let g = main.pin();
        let want = if deleted { 2 } else { 1 };
        assert_eq!([rank(&cache, F, &g), rank(&cache, F + 1, &g)], [want, want]);
        assert_eq!(cache.get(F + 3, &g), Some(1));
    });
}

/// Scenario 8: a large-folio add into an empty part of the tree, which
/// must grow (new root) and create the leaf's parent before the leaf is
/// published, against a reader of the range's two slots.
#[test]
fn range_add_growing_the_tree_against_reader() {
    loom::model(|| {
        let collector = Collector::new();
        let main = collector.register();
        let xa: Arc<XArray<u32>> = Arc::new(XArray::with_collector(collector.clone()));
        xa.insert(1, 1, &main.pin()).unwrap();
        let adder = {
            let xa = xa.clone();
            spawn_with_handle(&collector, move |h| {
                xa.insert_range(F * F + 2, 1, 50, &h.pin()).unwrap();
            })
        };
        let g = main.pin();
        let a = xa.load(F * F + 3, &g).and_then(Entry::as_ptr);
        let b = xa.load(F * F + 2, &g).and_then(Entry::as_ptr);
        assert!(!(a == Some(50) && b.is_none()), "half a range seen");
        assert_eq!(xa.load(1, &g).and_then(Entry::as_ptr), Some(1));
        drop(g);
        adder.join().unwrap();
        let g = main.pin();
        assert_eq!(xa.load(F * F + 2, &g).and_then(Entry::as_ptr), Some(50));
        assert_eq!(xa.load(F * F + 3, &g).and_then(Entry::as_ptr), Some(50));
    });
}
