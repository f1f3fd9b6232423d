//! The `XArray` on its own, as a concurrent sparse index: records keyed by
//! sparse 64-bit ids (`Arc<Record>` entries), read lock-free by two threads
//! while a writer inserts, replaces and removes; a block of ids claimed in
//! one step with `insert_range`; and an ordered scan with `range`.
//!
//! `cargo run --release -p swapcache --example sparse_index [OPS]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use swapcache::{Entry, XArray};

/// What the index holds. Aligned to at least 2 bytes, as every `Arc`/`Box`
/// entry must be (bit 0 of a slot tags value entries).
#[derive(Debug)]
struct Record {
    id: u64,
    version: u64,
}

/// Ids spread over the whole 64-bit space (a radix tree only pays for the
/// levels it needs: height grows with the largest id).
fn id(i: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8
}

fn main() {
    let ops: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let index: Arc<XArray<Arc<Record>>> = Arc::new(XArray::new());
    let live = 4096u64;
    {
        let g = index.pin();
        for i in 0..live {
            index
                .insert(
                    id(i),
                    Arc::new(Record {
                        id: id(i),
                        version: 0,
                    }),
                    &g,
                )
                .expect("ids are distinct");
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let hits = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let (index, stop, hits) = (index.clone(), stop.clone(), hits.clone());
            thread::spawn(move || {
                let mut i = t;
                let mut newest = 0;
                // Relaxed: a stop flag, ordering nothing.
                while !stop.load(Ordering::Relaxed) {
                    // Pin once per batch: the guard bounds every reference.
                    let g = index.pin();
                    for _ in 0..64 {
                        i += 1;
                        let key = id(i % (2 * live));
                        if let Some(r) = index.load(key, &g).and_then(Entry::as_ptr) {
                            // A record is never seen half-written or freed.
                            assert_eq!(r.id, key);
                            newest = newest.max(r.version);
                            hits.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                newest
            })
        })
        .collect();

    // The writer: replace records (new versions), remove and re-insert others.
    let mut g = index.pin();
    for n in 0..ops {
        if n.is_multiple_of(64) {
            g.repin(); // let retired records be reclaimed
        }
        let key = id(n % (2 * live));
        if n.is_multiple_of(3) {
            let rec = Arc::new(Record {
                id: key,
                version: n,
            });
            index.store(key, rec, &g);
        } else if index.remove(key, &g).is_none() {
            index
                .insert(
                    key,
                    Arc::new(Record {
                        id: key,
                        version: n,
                    }),
                    &g,
                )
                .expect("just found absent, and this is the only writer");
        }
    }
    drop(g);
    stop.store(true, Ordering::Relaxed);
    let newest = readers
        .into_iter()
        .map(|r| r.join().expect("reader"))
        .max()
        .unwrap_or(0);

    // A block of 64 consecutive ids claimed at once: every id of the block
    // shows the same record, or none does (never half of it).
    let g = index.pin();
    let block = Arc::new(Record {
        id: 1 << 62,
        version: 1,
    });
    index
        .insert_range(1 << 62, 6, block.clone(), &g)
        .expect("the block is free");
    let first = index.load(1 << 62, &g).and_then(Entry::as_ptr).unwrap();
    let last = index
        .load((1 << 62) + 63, &g)
        .and_then(Entry::as_ptr)
        .unwrap();
    assert!(first.ptr_eq(&block) && last.ptr_eq(&block));

    // An ordered scan of a key range.
    let scanned: Vec<u64> = index
        .range(1 << 62..(1 << 62) + 4, &g)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        scanned,
        [1 << 62, (1 << 62) + 1, (1 << 62) + 2, (1 << 62) + 3]
    );

    println!(
        "{} entries (64 from the block), {} reader hits, newest version read {newest} \
         of {ops} writer ops",
        index.len(),
        hits.load(Ordering::Relaxed),
    );
}
