//! `pin-retry`: the pinned bypass whose racer faults again at once
//! (13ddaf26be32 v1/v2).

use super::pinned::pinned_bypass;
use super::{Strategy, SwapFault, SwapIn};
use crate::system::FaultError;

/// `pin-retry`: pin with `swapcache_prepare`; a racer that finds the pin
/// taken returns and faults again at once (13ddaf26be32 v1/v2, seed 004).
#[derive(Debug)]
pub struct PinRetry;

impl Strategy for PinRetry {
    fn name(&self) -> &'static str {
        "pin-retry"
    }
    fn source(&self) -> &'static str {
        "13ddaf26be32 v1/v2 mm/swap: fix race when skipping swapcache"
    }
    fn swap_in(&self, f: &mut SwapFault<'_>) -> Result<SwapIn, FaultError> {
        pinned_bypass(f, |_| {}, |_| {})
    }
}
