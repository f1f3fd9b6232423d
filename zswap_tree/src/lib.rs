//! `zswap_tree`: under construction (see the open issue for this crate).
