//! The bypass path pinned with `swapcache_prepare` (13ddaf26be32), shared by
//! `pin-retry`, `pin-sleep` and `pin-waitqueue`, which differ only in what a
//! racer that finds the pin taken does.

use super::large::Hold;
use super::{SwapFault, SwapIn};
use crate::system::FaultError;
use swapmap::SwapError;

/// The bypass path with the `swapcache_prepare` pin (13ddaf26be32): `on_busy`
/// is what a racer that finds the pin taken does before faulting again;
/// `after_clear` runs after the holder drops the pin.
pub(crate) fn pinned_bypass(
    f: &mut SwapFault<'_>,
    on_busy: impl Fn(&mut SwapFault<'_>),
    after_clear: impl Fn(&mut SwapFault<'_>),
) -> Result<SwapIn, FaultError> {
    // As every bypass form: do_swap_page looks the faulting entry up in
    // the swap cache first (a folio there is mapped from the cache, before
    // any large folio is tried), and a device that is not
    // SWP_SYNCHRONOUS_IO, or a shared entry, takes the swap-cache path.
    if let Some(r) = f.bypass_prologue() {
        return r;
    }
    // Large form (6.12): the whole aligned range pinned with
    // swapcache_prepare(entry, nr); a busy range refaults as a busy entry.
    if let Some(r) = f.swap_in_large(Hold::Pin, &on_busy, &after_clear) {
        return r;
    }
    // Prevent parallel swap-ins of this entry: another thread could finish
    // first, free the entry and reuse it, and pte_same could not tell. The
    // bypass condition (count 1) and the pin are one compare-and-swap
    // (`SwapMap::swapcache_prepare_single`).
    match f.sys.map.swapcache_prepare_single(f.slot) {
        Ok(()) => {}
        // Shared: the swap-cache path.
        Err(SwapError::NotSingle { .. }) => return f.swapcache_path(),
        // A folio in the swap cache (mapped from there), or another
        // swap-in's pin.
        Err(SwapError::Exists { .. }) => {
            if let Some(r) = f.bypass_prologue() {
                return r;
            }
            f.st.pin_busy += 1;
            on_busy(f);
            return Ok(SwapIn::Retry);
        }
        // Freed: the PTE has changed.
        Err(_) => {
            f.st.entry_gone += 1;
            return Ok(SwapIn::Retry);
        }
    }
    // Install without dropping the reference under the PTE lock: while the
    // pin is held nobody else can act on it (the PTE maps the folio now,
    // and no swap-cache folio can appear), so the reference and the pin go
    // together after the PTE lock (`swap_free` + need_clear_cache's
    // `swapcache_clear`, in one cluster-locked step).
    let r = f
        .read_private()
        .map(|fr| f.install_private_with(fr, f.orig, |_| false));
    let _ = match r {
        Ok(true) => f.sys.map.free_and_clear(f.slot),
        // Not mapped: drop the pin only; if a zap dropped the last
        // reference meanwhile, this frees the slot.
        _ => f.sys.map.swapcache_clear(f.slot),
    };
    after_clear(f);
    Ok(if r? { SwapIn::Mapped } else { SwapIn::Retry })
}
