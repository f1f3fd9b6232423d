//! `sync-map`: the proposed `SWAP_MAP_SYNC` slot state (seed 004).

use super::large::Hold;
use super::{Strategy, SwapFault, SwapIn};
use crate::system::FaultError;
use swapmap::SwapError;

/// `sync-map`: the `SWAP_MAP_SYNC` slot state; a racer waits on the slot
/// (bounded spin, then yield) and faults again. Proposed in seed 004.
///
/// Large folios: the proposal has no large form; this model's holds the
/// whole aligned range in `SWAP_MAP_SYNC` ([`swapmap::SwapMap::sync_acquire_nr`]),
/// all or nothing, so that a racer on any page of the range waits on its
/// slot, and releases it with one locked step.
#[derive(Debug)]
pub struct SyncMap;

impl Strategy for SyncMap {
    fn name(&self) -> &'static str {
        "sync-map"
    }
    fn source(&self) -> &'static str {
        "proposal (Kairui Song, seed 004): a SWAP_MAP_SYNC / SWAP_MAP_LOCK slot state"
    }
    fn swap_in(&self, f: &mut SwapFault<'_>) -> Result<SwapIn, FaultError> {
        if let Some(r) = f.bypass_prologue() {
            return r;
        }
        // Large form (this model's; the proposal has none): the whole
        // aligned range in SWAP_MAP_SYNC, racers on any slot wait on it.
        if let Some(r) = f.swap_in_large(Hold::Sync, &|_| {}, &|_| {}) {
            return r;
        }
        match f.sys.map.sync_acquire(f.slot) {
            Ok(()) => {}
            Err(SwapError::Sync { .. }) => {
                f.st.waits += 1;
                if let Ok(w) = f.sys.map.sync_wait(f.slot) {
                    f.st.spins += u64::from(w.spins);
                    f.st.yields += w.yields;
                }
                return Ok(SwapIn::Retry);
            }
            // A folio is being added to the swap cache: go that way.
            Err(SwapError::Exists { .. }) => return f.swapcache_path(),
            Err(_) => return Ok(SwapIn::Retry),
        }
        let fr = match f.read_private() {
            Ok(fr) => fr,
            Err(e) => {
                let _ = f.sys.map.sync_release(f.slot);
                return Err(e);
            }
        };
        let slot = f.slot;
        // Success: swap_free and the release of SYNC in one locked step,
        // under the PTE lock as swap_free is.
        let mapped =
            f.install_private_with(fr, f.orig, |sys| sys.map.sync_release_free(slot).is_err());
        if !mapped {
            // Zapped: if the zap dropped the count, this frees the slot.
            let _ = f.sys.map.sync_release(slot);
        }
        Ok(if mapped {
            SwapIn::Mapped
        } else {
            SwapIn::Retry
        })
    }
}
