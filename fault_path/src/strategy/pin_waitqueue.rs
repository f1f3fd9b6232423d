//! `pin-waitqueue`: the pinned bypass whose racer waits on `swapcache_wq`
//! (01626a182302, Linux 6.12).

use super::pinned::pinned_bypass;
use super::{Strategy, SwapFault, SwapIn};
use crate::system::FaultError;

/// `pin-waitqueue`: the racer waits (up to a tick) on one shared wait
/// queue, which the pin holder wakes only when it has waiters
/// (01626a182302, Linux 6.12).
#[derive(Debug)]
pub struct PinWaitqueue;

impl Strategy for PinWaitqueue {
    fn name(&self) -> &'static str {
        "pin-waitqueue"
    }
    fn source(&self) -> &'static str {
        "01626a182302 mm: swap: prevent possible data corruption (swapcache_wq)"
    }
    fn swap_in(&self, f: &mut SwapFault<'_>) -> Result<SwapIn, FaultError> {
        pinned_bypass(
            f,
            |f| {
                f.st.waits += 1;
                let woken = f.sys.swapcache_wq.wait(f.sys.tick);
                f.st.sleeps += u64::from(!woken);
            },
            |f| {
                if f.sys.swapcache_wq.wake_if_waiters() {
                    f.st.wakeups += 1;
                }
            },
        )
    }
}
