//! `pin-sleep`: the pinned bypass whose racer sleeps a tick first
//! (13ddaf26be32 as merged).

use super::pinned::pinned_bypass;
use super::{Strategy, SwapFault, SwapIn};
use crate::system::FaultError;

/// `pin-sleep`: as `pin-retry`, but the racer first sleeps one tick
/// (`schedule_timeout_uninterruptible(1)`), as 13ddaf26be32 was merged.
#[derive(Debug)]
pub struct PinSleep;

impl Strategy for PinSleep {
    fn name(&self) -> &'static str {
        "pin-sleep"
    }
    fn source(&self) -> &'static str {
        "13ddaf26be32 as merged: schedule_timeout_uninterruptible(1) on -EEXIST"
    }
    fn swap_in(&self, f: &mut SwapFault<'_>) -> Result<SwapIn, FaultError> {
        pinned_bypass(
            f,
            |f| {
                f.st.sleeps += 1;
                crate::sync::sleep(f.sys.tick);
            },
            |_| {},
        )
    }
}
