//! `swap-count`: the proposed count 1 -> 2 raise (seed 004).

use super::{Strategy, SwapFault, SwapIn};
use crate::system::FaultError;
use swapmap::SwapError;

/// `swap-count`: raise the count from 1 to 2 under the cluster lock, so
/// racers see a shared entry and take the swap-cache path. Proposed in
/// seed 004 (Minchan Kim, Barry Song).
///
/// Findings of the loom models: the 1 -> 2 step must refuse a slot with
/// `SWAP_HAS_CACHE` set (see [`swapmap::SwapMap::duplicate_if_single`]);
/// and since the owner and the racers read the slot concurrently, the
/// strategy is unsafe with zswap's exclusive loads in both the 6.5-6.8 mode
/// and 25cd241408a2's exclusive-if-cached mode: one reader erases zswap's
/// copy and the other reads the device.
///
/// Large folios: none. The proposal sends racers through the swap cache,
/// whose swap-in (`swapin_readahead`) reads order-0 folios in 6.12; a large
/// form would raise `nr` counts and let the racers find order-0 folios for
/// pages of the range, which is the order-0 case `nr` times. This model
/// keeps `swap-count` at order 0 on ranges swapped out as large folios,
/// and the loom model `large_range_under_order0_strategies` checks it.
#[derive(Debug)]
pub struct SwapCount;

impl Strategy for SwapCount {
    fn name(&self) -> &'static str {
        "swap-count"
    }
    fn source(&self) -> &'static str {
        "proposal (seed 004): __swap_duplicate 1 -> 2 so racers use the swap cache"
    }
    fn swap_in(&self, f: &mut SwapFault<'_>) -> Result<SwapIn, FaultError> {
        if let Some(r) = f.bypass_prologue() {
            return r;
        }
        match f.sys.map.duplicate_if_single(f.slot) {
            Ok(()) => {}
            // Shared, or a folio for the slot is in the swap cache (a page-out
            // still writing it): the swap-cache path finds or waits for it.
            Err(SwapError::NotSingle { .. } | SwapError::Exists { .. }) => {
                return f.swapcache_path();
            }
            Err(_) => return Ok(SwapIn::Retry),
        }
        // install_private drops the PTE's reference (2 -> 1)...
        let r = f.read_private().map(|fr| f.install_private(fr));
        // ...and this drops ours; a racer's swap-cache folio left behind is
        // reclaimed ("swapcache clean up needs to be handled even in the
        // bypassing path since the racer may add it to swapcache").
        f.sys.free_swap_and_cache(f.slot, None);
        Ok(if r? { SwapIn::Mapped } else { SwapIn::Retry })
    }
}
