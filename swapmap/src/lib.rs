//! swapmap: being written.
