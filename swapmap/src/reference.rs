//! A sequential reference model of the swap map, and a harness that runs
//! the same operations on a [`SwapMap`] and on the model and compares them.
//!
//! The model is the executable specification of the crate's semantics: a
//! plain map from slot to (count, cache, sync) with no encoding, clusters or
//! atomics. The property tests and the fuzz target drive [`Harness`] with
//! arbitrary [`Op`] sequences; any difference in a result, a slot state, a
//! free notification or the statistics is reported as a [`Mismatch`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};

use crate::slot::CONT_BASE;
use crate::{Freed, SlotState, SwapError, SwapMap, SwapMapStats};

/// Which slot an [`Op`] targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The `n`-th in-use slot of the model (modulo their number), so that
    /// random sequences mostly hit live slots; slot 1 when none is in use.
    Used(usize),
    /// A raw slot number, possibly free, bad or out of range.
    Raw(u64),
}

/// One operation of the map's API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// [`SwapMap::alloc`].
    Alloc,
    /// [`SwapMap::duplicate`].
    Duplicate(Target),
    /// [`SwapMap::duplicate_if_single`].
    DuplicateIfSingle(Target),
    /// [`SwapMap::swapcache_prepare`].
    Prepare(Target),
    /// [`SwapMap::swapcache_clear`].
    Clear(Target),
    /// [`SwapMap::free`].
    Free(Target),
    /// [`SwapMap::free_and_clear`].
    FreeAndClear(Target),
    /// [`SwapMap::sync_acquire`].
    SyncAcquire(Target),
    /// [`SwapMap::sync_release`].
    SyncRelease(Target),
    /// [`SwapMap::sync_release_free`].
    SyncReleaseFree(Target),
    /// [`SwapMap::mark_bad`].
    MarkBad(Target),
    /// `n` duplicates in a row (reaches the continuation counts quickly).
    DuplicateMany(Target, u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MSlot {
    Bad,
    Used { count: u64, cache: bool },
    Sync,
}

/// The sequential model: slot → state, with free slots absent.
#[derive(Clone, Debug)]
pub struct Model {
    nr_slots: u64,
    cont_limit: u32,
    slots: BTreeMap<u64, MSlot>,
    allocs: u64,
    frees: u64,
}

impl Model {
    /// A model of a fresh map (slot 0 bad) of `nr_slots` slots whose
    /// continuation digit is limited to `cont_limit`.
    pub fn new(nr_slots: u64, cont_limit: u32) -> Model {
        let mut slots = BTreeMap::new();
        slots.insert(0, MSlot::Bad);
        Model {
            nr_slots,
            cont_limit,
            slots,
            allocs: 0,
            frees: 0,
        }
    }

    /// The state of `slot` in the model.
    pub fn state(&self, slot: u64) -> SlotState {
        match self.slots.get(&slot) {
            None => SlotState::Free,
            Some(MSlot::Bad) => SlotState::Bad,
            Some(MSlot::Sync) => SlotState::Sync,
            Some(&MSlot::Used { count, cache }) => SlotState::Used {
                count,
                has_cache: cache,
            },
        }
    }

    /// Resolves a [`Target`] to a slot number.
    pub fn resolve(&self, t: Target) -> u64 {
        match t {
            Target::Raw(s) => s,
            Target::Used(n) => {
                let used: Vec<u64> = self
                    .slots
                    .iter()
                    .filter(|(_, s)| !matches!(s, MSlot::Bad))
                    .map(|(&k, _)| k)
                    .collect();
                if used.is_empty() {
                    1
                } else {
                    used[n % used.len()]
                }
            }
        }
    }

    fn free_slots(&self) -> u64 {
        self.nr_slots - self.slots.len() as u64
    }

    fn check(&self, slot: u64) -> Result<Option<MSlot>, SwapError> {
        if slot >= self.nr_slots {
            return Err(SwapError::OutOfRange {
                slot,
                nr_slots: self.nr_slots,
            });
        }
        Ok(self.slots.get(&slot).copied())
    }

    /// Sets the state; `Used { 0, false }` frees the slot and returns true.
    fn set(&mut self, slot: u64, s: MSlot) -> bool {
        if s == (MSlot::Used {
            count: 0,
            cache: false,
        }) {
            self.slots.remove(&slot);
            self.frees += 1;
            true
        } else {
            self.slots.insert(slot, s);
            false
        }
    }

    fn freed(&mut self, slot: u64, s: MSlot) -> Freed {
        if self.set(slot, s) {
            Freed::Yes
        } else {
            Freed::No
        }
    }

    fn inc(&self, slot: u64, count: u64) -> Result<u64, SwapError> {
        // The byte holds count % 63 and the digit count / 63; the digit can
        // only grow when the byte is at SWAP_MAP_MAX.
        if count % CONT_BASE == CONT_BASE - 1 && count / CONT_BASE >= u64::from(self.cont_limit) {
            Err(SwapError::CountOverflow { slot })
        } else {
            Ok(count + 1)
        }
    }

    /// Applies `op` to the model. `alloc` is what the real map's
    /// [`SwapMap::alloc`] returned: the model checks it was allowed to.
    pub fn apply(&mut self, slot: u64, op: Op, alloc: Option<u64>) -> Result<Outcome, String> {
        use MSlot::*;
        use SwapError as E;
        let r = |x: Result<Freed, SwapError>| Ok(Outcome::Put(x));
        let u = |x: Result<(), SwapError>| Ok(Outcome::Unit(x));
        let st = self.check(slot);
        match op {
            Op::Alloc => match alloc {
                Some(s) => {
                    if s >= self.nr_slots || self.slots.contains_key(&s) {
                        return Err(format!("alloc returned slot {s}, which is not free"));
                    }
                    self.slots.insert(
                        s,
                        Used {
                            count: 0,
                            cache: true,
                        },
                    );
                    self.allocs += 1;
                    Ok(Outcome::Alloc(Some(s)))
                }
                None if self.free_slots() > 0 => Err(format!(
                    "alloc failed with {} free slots",
                    self.free_slots()
                )),
                None => Ok(Outcome::Alloc(None)),
            },
            Op::Duplicate(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Err(E::Sync { slot }),
                Ok(Some(Used { count, cache })) => self.inc(slot, count).map(|count| {
                    self.set(slot, Used { count, cache });
                }),
            }),
            Op::DuplicateMany(_, n) => {
                let mut last = Ok(());
                for _ in 0..n {
                    last = match self.apply(slot, Op::Duplicate(Target::Raw(slot)), None)? {
                        Outcome::Unit(x) => x,
                        other => return Err(format!("unexpected {other:?}")),
                    };
                    if last.is_err() {
                        break;
                    }
                }
                u(last)
            }
            Op::DuplicateIfSingle(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Err(E::Sync { slot }),
                Ok(Some(Used {
                    count: 1,
                    cache: false,
                })) => {
                    self.set(
                        slot,
                        Used {
                            count: 2,
                            cache: false,
                        },
                    );
                    Ok(())
                }
                Ok(Some(Used {
                    count: 1,
                    cache: true,
                })) => Err(E::Exists { slot }),
                Ok(Some(Used { .. })) => Err(E::NotSingle { slot }),
            }),
            Op::Prepare(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync | Used { cache: true, .. })) => Err(E::Exists { slot }),
                Ok(Some(Used { count, .. })) => {
                    self.set(slot, Used { count, cache: true });
                    Ok(())
                }
            }),
            Op::Clear(_) => r(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Err(E::Sync { slot }),
                Ok(Some(Used { cache: false, .. })) => Err(E::NotCached { slot }),
                Ok(Some(Used { count, .. })) => Ok(self.freed(
                    slot,
                    Used {
                        count,
                        cache: false,
                    },
                )),
            }),
            Op::Free(_) => r(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Ok(self.freed(
                    slot,
                    Used {
                        count: 0,
                        cache: true,
                    },
                )),
                Ok(Some(Used { count: 0, .. })) => Err(E::NoCount { slot }),
                Ok(Some(Used { count, cache })) => Ok(self.freed(
                    slot,
                    Used {
                        count: count - 1,
                        cache,
                    },
                )),
            }),
            Op::FreeAndClear(_) => r(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Err(E::Sync { slot }),
                Ok(Some(Used { cache: false, .. })) => Err(E::NotCached { slot }),
                Ok(Some(Used { count: 0, .. })) => Err(E::NoCount { slot }),
                Ok(Some(Used { count, .. })) => Ok(self.freed(
                    slot,
                    Used {
                        count: count - 1,
                        cache: false,
                    },
                )),
            }),
            Op::SyncAcquire(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Err(E::Sync { slot }),
                Ok(Some(Used { cache: true, .. })) => Err(E::Exists { slot }),
                Ok(Some(Used { count: 1, .. })) => {
                    self.set(slot, Sync);
                    Ok(())
                }
                Ok(Some(Used { .. })) => Err(E::NotSingle { slot }),
            }),
            Op::SyncRelease(_) => r(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Ok(self.freed(
                    slot,
                    Used {
                        count: 1,
                        cache: false,
                    },
                )),
                Ok(Some(Used { count, cache: true })) => Ok(self.freed(
                    slot,
                    Used {
                        count,
                        cache: false,
                    },
                )),
                Ok(Some(Used { .. })) => Err(E::NotSync { slot }),
            }),
            Op::SyncReleaseFree(_) => u(match st {
                Err(e) => Err(e),
                Ok(Some(Sync)) => {
                    self.set(
                        slot,
                        Used {
                            count: 0,
                            cache: false,
                        },
                    );
                    Ok(())
                }
                Ok(_) => Err(E::NotSync { slot }),
            }),
            Op::MarkBad(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => {
                    self.slots.insert(slot, Bad);
                    Ok(())
                }
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(_)) => Err(E::InUse { slot }),
            }),
        }
    }

    /// The statistics the model predicts (the list counts are not modelled
    /// and are copied from `actual`).
    pub fn stats(&self, actual: &SwapMapStats) -> SwapMapStats {
        let mut s = SwapMapStats {
            nr_slots: self.nr_slots,
            cluster_size: actual.cluster_size,
            free_slots: self.free_slots(),
            allocs: self.allocs,
            frees: self.frees,
            alloc_failures: actual.alloc_failures,
            free_clusters: actual.free_clusters,
            nonfull_clusters: actual.nonfull_clusters,
            full_clusters: actual.full_clusters,
            percpu_clusters: actual.percpu_clusters,
            ..SwapMapStats::default()
        };
        for st in self.slots.values() {
            match *st {
                MSlot::Bad => s.bad_slots += 1,
                MSlot::Sync => {
                    s.inuse_slots += 1;
                    s.cached_slots += 1;
                    s.sync_slots += 1;
                }
                MSlot::Used { count, cache } => {
                    s.inuse_slots += 1;
                    s.cached_slots += u64::from(cache);
                    s.continued_slots += u64::from(count >= CONT_BASE);
                }
            }
        }
        s
    }
}

/// What an operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// From [`Op::Alloc`].
    Alloc(Option<u64>),
    /// From an operation that returns `()`.
    Unit(Result<(), SwapError>),
    /// From a put that may free the slot.
    Put(Result<Freed, SwapError>),
}

/// A difference between the map and the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Index of the operation in the sequence.
    pub step: usize,
    /// The operation.
    pub op: Op,
    /// What differed.
    pub what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} ({:?}): {}", self.step, self.op, self.what)
    }
}

impl std::error::Error for Mismatch {}

/// A [`SwapMap`] and a [`Model`] driven in lockstep. The map's free-notify
/// hook records every freed slot so that notifications are compared too.
#[derive(Debug)]
pub struct Harness {
    map: SwapMap,
    model: Model,
    notified: Arc<StdMutex<Vec<u64>>>,
    step: usize,
}

impl Harness {
    /// A map of `nr_slots` slots with clusters of `cluster_size` and a
    /// continuation limit of `cont_limit`, and its model.
    pub fn new(nr_slots: u64, cluster_size: u32, cont_limit: u32) -> Result<Harness, String> {
        let notified = Arc::new(StdMutex::new(Vec::new()));
        let sink = Arc::clone(&notified);
        let map = SwapMap::builder(nr_slots)
            .cluster_size(cluster_size)
            .continuation_limit(cont_limit)
            .free_notify(move |slot| sink.lock().unwrap_or_else(|e| e.into_inner()).push(slot))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Harness {
            map,
            model: Model::new(nr_slots, cont_limit),
            notified,
            step: 0,
        })
    }

    /// The map under test.
    pub fn map(&self) -> &SwapMap {
        &self.map
    }

    /// Runs `op` on both and compares the result, the target slot's state
    /// and the notifications.
    pub fn step(&mut self, op: Op) -> Result<Outcome, Mismatch> {
        let step = self.step;
        self.step += 1;
        let err = |what: String| Mismatch { step, op, what };
        let target = match op {
            Op::Alloc => None,
            Op::Duplicate(t)
            | Op::DuplicateIfSingle(t)
            | Op::Prepare(t)
            | Op::Clear(t)
            | Op::Free(t)
            | Op::FreeAndClear(t)
            | Op::SyncAcquire(t)
            | Op::SyncRelease(t)
            | Op::SyncReleaseFree(t)
            | Op::MarkBad(t)
            | Op::DuplicateMany(t, _) => Some(self.model.resolve(t)),
        };
        let slot = target.unwrap_or(0);
        let m = &self.map;
        let got = match op {
            Op::Alloc => Outcome::Alloc(m.alloc()),
            Op::Duplicate(_) => Outcome::Unit(m.duplicate(slot)),
            Op::DuplicateMany(_, n) => {
                let mut last = Ok(());
                for _ in 0..n {
                    last = m.duplicate(slot);
                    if last.is_err() {
                        break;
                    }
                }
                Outcome::Unit(last)
            }
            Op::DuplicateIfSingle(_) => Outcome::Unit(m.duplicate_if_single(slot)),
            Op::Prepare(_) => Outcome::Unit(m.swapcache_prepare(slot)),
            Op::Clear(_) => Outcome::Put(m.swapcache_clear(slot)),
            Op::Free(_) => Outcome::Put(m.free(slot)),
            Op::FreeAndClear(_) => Outcome::Put(m.free_and_clear(slot)),
            Op::SyncAcquire(_) => Outcome::Unit(m.sync_acquire(slot)),
            Op::SyncRelease(_) => Outcome::Put(m.sync_release(slot)),
            Op::SyncReleaseFree(_) => Outcome::Unit(m.sync_release_free(slot)),
            Op::MarkBad(_) => Outcome::Unit(m.mark_bad(slot)),
        };
        let alloc = match got {
            Outcome::Alloc(a) => a,
            _ => None,
        };
        let before = self.model.frees;
        let want = self.model.apply(slot, op, alloc).map_err(err)?;
        if got != want {
            return Err(err(format!("map returned {got:?}, model {want:?}")));
        }
        let touched = alloc.or(target).filter(|&s| s < self.model.nr_slots);
        if let Some(s) = touched {
            let (a, b) = (self.map.state(s), self.model.state(s));
            if a != Ok(b) {
                return Err(err(format!("slot {s}: map {a:?}, model {b:?}")));
            }
        }
        let notes: Vec<u64> =
            std::mem::take(&mut *self.notified.lock().unwrap_or_else(|e| e.into_inner()));
        let expect: Vec<u64> = if self.model.frees > before {
            vec![slot]
        } else {
            vec![]
        };
        if notes != expect {
            return Err(err(format!("notified {notes:?}, expected {expect:?}")));
        }
        Ok(got)
    }

    /// Compares every slot and the statistics.
    pub fn check_all(&self) -> Result<(), String> {
        for s in 0..self.model.nr_slots {
            let (a, b) = (self.map.state(s), self.model.state(s));
            if a != Ok(b) {
                return Err(format!("slot {s}: map {a:?}, model {b:?}"));
            }
        }
        let used: Vec<(u64, SlotState)> = self.map.iter_used().collect();
        let want: Vec<(u64, SlotState)> = self
            .model
            .slots
            .keys()
            .map(|&s| (s, self.model.state(s)))
            .filter(|(_, st)| *st != SlotState::Bad)
            .collect();
        if used != want {
            return Err(format!("iter_used {used:?}, model {want:?}"));
        }
        let actual = self.map.stats();
        let want = self.model.stats(&actual);
        if actual != want {
            return Err(format!("stats {actual:?}, model {want:?}"));
        }
        let clusters = actual.free_clusters
            + actual.nonfull_clusters
            + actual.full_clusters
            + actual.percpu_clusters;
        if u64::from(clusters) != self.model.nr_slots.div_ceil(u64::from(actual.cluster_size)) {
            return Err(format!("{clusters} clusters accounted for"));
        }
        Ok(())
    }

    /// Runs a whole sequence, checking everything after every step.
    pub fn run(&mut self, ops: &[Op]) -> Result<(), Mismatch> {
        for &op in ops {
            self.step(op)?;
            self.check_all().map_err(|what| Mismatch {
                step: self.step - 1,
                op,
                what,
            })?;
        }
        Ok(())
    }
}
