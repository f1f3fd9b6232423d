//! `swapcache`: every swap-in through the swap cache (seed 004's "Cached"
//! row).

use super::Cached;
use super::{Strategy, SwapFault, SwapIn};
use crate::system::FaultError;

/// `swapcache`: every swap-in goes through the swap cache (the "Cached"
/// row of seed 004: `SWP_SYNCHRONOUS_IO` dropped).
///
/// Large folios: on a synchronous device, a range that passes the checks
/// of `can_swapin_thp` comes in as one folio through the swap cache
/// (`SwapFault::swap_in_large_cached`, the swap table series' form);
/// otherwise order 0 (`swapin_readahead`, as in 6.12). A large folio a
/// page-out left in the swap cache is mapped page by page.
#[derive(Debug)]
pub struct SwapCachePath;

impl Strategy for SwapCachePath {
    fn name(&self) -> &'static str {
        "swapcache"
    }
    fn source(&self) -> &'static str {
        "the non-direct do_swap_page path (swapin_readahead)"
    }
    fn swap_in(&self, f: &mut SwapFault<'_>) -> Result<SwapIn, FaultError> {
        match f.lookup_cache() {
            Cached::Hit(fr) => {
                f.st.minor += 1;
                f.map_cached(fr)
            }
            Cached::Stale => Ok(SwapIn::Retry),
            Cached::Miss => match f.swap_in_large_cached() {
                Some(r) => r,
                None => f.swapcache_path(),
            },
        }
    }
}
