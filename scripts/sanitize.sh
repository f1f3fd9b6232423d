#!/usr/bin/env bash
# Sanitizer runs (nightly only):
#   scripts/sanitize.sh           ThreadSanitizer on every crate's stress and
#                                 race tests and the xarray's threaded unit
#                                 tests, AddressSanitizer on the unit tests
#                                 of the crates with `unsafe`
#   scripts/sanitize.sh --short   the CI form: TSan on the xarray's threaded
#                                 unit tests only (the lock-free reads and
#                                 epoch reclamation that loom and miri see
#                                 only at a few threads and steps). No ASan:
#                                 CI's miri step already runs the same unit
#                                 tests of every crate with `unsafe` and
#                                 catches more than ASan does.
#
# Both rebuild std with the sanitizer (-Zbuild-std; installs rust-src for
# nightly if missing) into target/sanitize/{thread,address}, in release with
# debug assertions.
#
# crossbeam-epoch: its build script turns on `crossbeam_sanitize_thread`
# when it is built with -Zsanitizer=thread (CARGO_CFG_SANITIZE), which
# replaces the fences TSan cannot see by acquire loads; `--cfg
# crossbeam_sanitize` (what crossbeam's own sanitizer CI passes) shrinks
# its garbage bags from 64 to 4 objects so that reclamation, and any race
# with it, happens far more often. Nothing of ours is suppressed.
set -euo pipefail
cd "$(dirname "$0")/.."

short=0
case "${1:-}" in
  --short) short=1 ;;
  '') ;;
  *) echo "usage: $0 [--short]" >&2; exit 2 ;;
esac

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "sanitize.sh: needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
  echo "--- installing rust-src for nightly (needed by -Zbuild-std)"
  rustup component add --toolchain nightly rust-src
fi

triple=x86_64-unknown-linux-gnu
step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# cargo test under a sanitizer, in release (the race harness runs its
# rounds ten times faster than in debug, and the sanitizers' own slowdown
# comes on top), with debug assertions kept: $1 = thread|address, then
# cargo test args.
san_test() {
  local san="$1"
  shift
  local t0
  t0=$(date +%s)
  RUSTFLAGS="-Zsanitizer=$san --cfg crossbeam_sanitize -Cdebug-assertions" \
    RUSTDOCFLAGS="-Zsanitizer=$san --cfg crossbeam_sanitize" \
    cargo +nightly test -Zbuild-std --release --target "$triple" \
    --target-dir "target/sanitize/${san}" "$@"
  echo "--- $san: $* took $(($(date +%s) - t0)) s"
}

# halt_on_error: the first report fails the run.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_stack_use_after_return=1 ${ASAN_OPTIONS:-}"

# The xarray's threaded unit tests (readers walking while writers recycle
# nodes, concurrent readers and writers, racing inserts and adds).
XA_THREADED=(readers_walk_while_writers_recycle_nodes concurrent_readers_and_writers
  racing_inserters_exactly_one_wins swap_cache_racing_adds)

step "ThreadSanitizer"
if [ "$short" = 1 ]; then
  san_test thread -p swapcache --lib -- "${XA_THREADED[@]}"
else
  san_test thread -p swapmap --test stress
  san_test thread -p zswap_tree --test stress
  san_test thread -p fault_path --test race
  san_test thread -p swapcache --lib -- "${XA_THREADED[@]}"
fi

if [ "$short" = 0 ]; then
  step "AddressSanitizer (unit tests of the crates with unsafe)"
  for c in swapmap swapcache zswap_tree fault_path; do
    grep -rqE 'unsafe (fn|impl|\{)' "$c/src" || { echo "--- $c: no unsafe, skipped"; continue; }
    echo "--- asan: $c"
    san_test address -p "$c" --lib
  done
fi

step "sanitizers clean"
