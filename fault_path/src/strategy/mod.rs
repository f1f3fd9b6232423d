//! Swap-in strategies: the ways `do_swap_page` has been (or was proposed
//! to be) synchronised for `SWP_SYNCHRONOUS_IO` devices.
//!
//! A strategy is one file here with a [`Strategy`] implementation, plus one
//! line in [`STRATEGIES`]; the building blocks they share (swap-cache
//! lookup, the swap-cache path, a private read, the `pte_same` install) are
//! methods of [`SwapFault`] in `steps.rs`, and the pinned bypass that three
//! strategies share is in `pinned.rs`.

use std::fmt;

use crate::frame::FrameId;
use crate::mm::AddressSpace;
use crate::pte::Pte;
use crate::stats::FaultStats;
use crate::system::{FaultError, System};

mod bypass;
mod large;
mod pin_retry;
mod pin_sleep;
mod pin_waitqueue;
mod pinned;
mod pte_marker;
mod steps;
mod swap_count;
mod swapcache;
mod sync_map;

pub use bypass::Bypass;
pub use pin_retry::PinRetry;
pub use pin_sleep::PinSleep;
pub use pin_waitqueue::PinWaitqueue;
pub use pte_marker::PteMarker;
pub(crate) use steps::Cached;
pub use steps::SwapFault;
pub use swap_count::SwapCount;
pub use swapcache::SwapCachePath;
pub use sync_map::SyncMap;

/// What a swap-in did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapIn {
    /// The page is mapped (by this fault or, as it found, by another).
    Mapped,
    /// Nothing was mapped; the access faults again (the kernel returns to
    /// user space, which re-executes the access).
    Retry,
}

/// One swap-in synchronisation strategy.
pub trait Strategy: Send + Sync + fmt::Debug {
    /// The name it is selected by.
    fn name(&self) -> &'static str;
    /// The kernel commit or mailing-list proposal it models.
    fn source(&self) -> &'static str;
    /// `do_swap_page` for the swap PTE `f.orig` of page `f.vpn`.
    fn swap_in(&self, f: &mut SwapFault<'_>) -> Result<SwapIn, FaultError>;
    /// A fault found a swap-in marker PTE naming the folio in `fr`: wait
    /// until that swap-in is done, then fault again. The default waits for
    /// the folio lock, as for a migration entry.
    fn on_marker(
        &self,
        mm: &AddressSpace,
        vpn: usize,
        orig: Pte,
        fr: FrameId,
        st: &mut FaultStats,
    ) {
        let _ = (vpn, orig);
        let frames = &mm.system().frames;
        st.waits += 1;
        // Take a reference first, so the frame cannot be freed and reused
        // under the lock we wait for (`migration_entry_wait` does the same
        // with `folio_try_get`).
        if frames.try_get(fr) {
            let w = frames.lock(fr);
            st.spins += u64::from(w.spins);
            st.yields += w.yields;
            frames.unlock_put(fr);
        }
    }
    /// A zap cleared a swap-in marker naming the folio in `fr`. The default
    /// does nothing: the swap-in notices and cleans up.
    fn on_marker_zapped(&self, sys: &System, fr: FrameId) {
        let _ = (sys, fr);
    }
}

/// Every strategy, in the order the tables print them.
pub static STRATEGIES: &[&dyn Strategy] = &[
    &Bypass,
    &PinRetry,
    &PinSleep,
    &PinWaitqueue,
    &SyncMap,
    &SwapCount,
    &PteMarker,
    &SwapCachePath,
];

/// The strategy called `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Strategy> {
    index_of(name).map(|i| STRATEGIES[i])
}

/// The index in [`STRATEGIES`] of the strategy called `name`.
pub(crate) fn index_of(name: &str) -> Option<usize> {
    STRATEGIES.iter().position(|s| s.name() == name)
}

/// The names of every strategy.
pub fn names() -> Vec<&'static str> {
    STRATEGIES.iter().map(|s| s.name()).collect()
}
