//! The accounting check run at rest by the tests, the fuzz targets, the race
//! harness and the `swapin` tool: every swap slot and frame accounted for.
//! It sits below both [`System`] and the [`harness`](crate::harness), which
//! use it.

use std::collections::HashMap;

use crate::frame::PG_SWAPCACHE;
use crate::mm::AddressSpace;
use crate::pte::PteKind;
use crate::system::System;

/// Checks, at rest, that every slot and frame is accounted for:
/// - each in-use slot's count equals the PTEs that name it, and its cache
///   flag is set exactly when the swap cache holds a folio for it, which
///   points back at it;
/// - each allocated folio is referenced by exactly the PTEs that map one
///   of its pages plus one per swap-cache slot that holds it (a large folio
///   sits in each of its `nr` slots, which must be its own, in order);
/// - no frame was freed twice, and every slot freeing was notified once.
///
/// Returns the violations found (empty when clean).
pub fn check_accounting(sys: &System, mms: &[&AddressSpace]) -> Vec<String> {
    let mut errs = Vec::new();
    let mut slot_refs: HashMap<u64, u64> = HashMap::new();
    let mut frame_refs: HashMap<u32, u32> = HashMap::new();
    for mm in mms {
        for vpn in 0..mm.pages() {
            match mm.pte(vpn).kind() {
                PteKind::None => {}
                PteKind::Present(fr) => {
                    *frame_refs.entry(sys.frames().folio_of(fr)).or_default() += 1
                }
                PteKind::Swap(s) => *slot_refs.entry(s).or_default() += 1,
                PteKind::Marker(fr) => {
                    errs.push(format!("page {vpn}: marker for frame {fr} at rest"))
                }
            }
        }
    }
    let map = sys.swap_map();
    for (slot, state) in map.iter_used() {
        let refs = slot_refs.remove(&slot).unwrap_or(0);
        if state.count() != refs {
            errs.push(format!(
                "slot {slot}: count {} but {refs} PTEs",
                state.count()
            ));
        }
        let cached = sys.cached_folio(slot);
        match (state, cached) {
            (swapmap::SlotState::Sync, _) => errs.push(format!("slot {slot}: SYNC at rest")),
            (_, Some(fr)) => {
                if !state.has_cache() {
                    errs.push(format!(
                        "slot {slot}: cached folio {fr} without SWAP_HAS_CACHE"
                    ));
                }
                let f = sys.frames();
                let nr = 1u64 << f.order(fr);
                if f.flags(fr) & PG_SWAPCACHE == 0 || slot.wrapping_sub(f.swap(fr)) >= nr {
                    errs.push(format!(
                        "slot {slot}: cache points at folio {fr} of another slot"
                    ));
                }
                if f.folio_of(fr) != fr {
                    errs.push(format!(
                        "slot {slot}: cache holds frame {fr}, not a folio head"
                    ));
                }
                *frame_refs.entry(fr).or_default() += 1;
            }
            (_, None) if state.has_cache() => errs.push(format!(
                "slot {slot}: SWAP_HAS_CACHE but no folio (leaked pin)"
            )),
            _ => {}
        }
        if state.count() == 0 && !state.has_cache() {
            errs.push(format!("slot {slot}: in use with no reference"));
        }
    }
    for (slot, refs) in slot_refs {
        errs.push(format!("slot {slot}: named by {refs} PTEs but free"));
    }
    let f = sys.frames();
    let fs = f.stats();
    if fs.double_frees != 0 {
        errs.push(format!("{} frame double frees", fs.double_frees));
    }
    let referenced: u64 = frame_refs.keys().map(|&fr| 1u64 << f.order(fr)).sum();
    if u64::from(fs.in_use) != referenced {
        errs.push(format!(
            "{} frames allocated but {referenced} referenced, in {} folios (leak)",
            fs.in_use,
            frame_refs.len()
        ));
    }
    for (&fr, &refs) in &frame_refs {
        if f.refs(fr) != refs {
            errs.push(format!(
                "frame {fr}: refcount {} but {refs} users",
                f.refs(fr)
            ));
        }
    }
    let ms = map.stats();
    if ms.frees != sys.slots_freed() {
        errs.push(format!(
            "{} slots freed but {} notifications",
            ms.frees,
            sys.slots_freed()
        ));
    }
    errs
}
