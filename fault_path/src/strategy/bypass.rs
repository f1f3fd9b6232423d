//! `bypass`: the `SWP_SYNCHRONOUS_IO` swap-in that skips the swap cache with no
//! pin (0bcac06f27d7). It races (seed 004).

use super::large::Hold;
use super::{Strategy, SwapFault, SwapIn};
use crate::system::FaultError;

/// `bypass`: skip the swap cache when the device is synchronous and the
/// count is 1, with no pin (0bcac06f27d7, 2017). Races (seed 004).
#[derive(Debug)]
pub struct Bypass;

impl Strategy for Bypass {
    fn name(&self) -> &'static str {
        "bypass"
    }
    fn source(&self) -> &'static str {
        "0bcac06f27d7 mm, swap: skip swapcache for swapin of synchronous device"
    }
    fn swap_in(&self, f: &mut SwapFault<'_>) -> Result<SwapIn, FaultError> {
        if let Some(r) = f.bypass_prologue() {
            return r;
        }
        // Large form: the whole aligned range, unpinned (as the order-0
        // bypass), re-checked under the PTE lock.
        if let Some(r) = f.swap_in_large(Hold::Nothing, &|_| {}, &|_| {}) {
            return r;
        }
        let fr = f.read_private()?;
        Ok(if f.install_private(fr) {
            SwapIn::Mapped
        } else {
            SwapIn::Retry
        })
    }
}
