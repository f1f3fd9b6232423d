#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS seconds each (default 60), one
# after the other:
#   fuzz/run-all.sh SECONDS
# from any directory. Needs a nightly toolchain; installs cargo-fuzz if it is
# missing. Builds with debug assertions on (the crates' debug_assert!s are
# part of what is checked) and without comparison tracing (see below).
#
# Sanitizer, per target (FUZZ_SANITIZER=none|address overrides them all,
# and turns the ASan replay off):
#   swapmap_ops       none     swapmap has no `unsafe`
#   zswap_ops         none     zswap_tree forbids `unsafe`; the C
#                              compressors see only pages they made
#   xarray_ops        address  swapcache's lock-free tree is `unsafe`: a
#                              use after free of a reclaimed node shows
#                              only under ASan
#   swapcache_ops     address  the swap cache on that tree: its spaces
#                              array, range adds and deletes (leaf copies)
#                              and the folios it retires are `unsafe` too
#   fault_path_ops    none,    fault_path has `unsafe` frame accesses, but
#                     + ASan   ASan made it three times slower (554 against
#                     replay   ~1500 exec/s); after the run every input of
#                              its corpus and regressions is replayed once
#                              (-runs=0) on an ASan build instead
#   zswap_decompress  address  liblz4, libzstd (C, built with ASan too) and
#                              the Rust decoders are fed corrupt input
# Each sanitizer builds into its own fuzz/target/<sanitizer>/, so that
# switching does not rebuild. No target uses -trace-compares: its inputs are
# structured (decoded with `arbitrary`), so comparison operands rarely come
# from input bytes, and tracing every comparison of the model checks was a
# third to a half of their time; fuzz/dict/<target>.dict, where there is
# one, supplies the few magic values instead.
#
# Each target runs on fuzz/corpus/<target>/: the committed seed-* and
# cmin-* inputs (cmin-* is the minimised campaign corpus, fuzz/cmin.sh)
# plus whatever earlier runs added there (SHA-1 names, ignored by git;
# commit a find by copying it to fuzz/regressions/<target>/). Regression
# inputs are loaded too. A crash leaves its input in fuzz/artifacts/<target>/;
# the script goes on with the other targets and exits 1 at the end.
#
# FUZZ_TARGETS="a b" runs only those targets. Extra libFuzzer flags can be
# passed in FUZZ_FLAGS (e.g. FUZZ_FLAGS=-runs=1000000).
set -euo pipefail

secs="${1:-60}"
case "$secs" in
  '' | *[!0-9]*) echo "usage: $0 SECONDS" >&2; exit 2 ;;
esac

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir/.."

ALL_TARGETS=(swapmap_ops xarray_ops swapcache_ops zswap_ops zswap_decompress fault_path_ops)
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"

sanitizer() {
  if [ -n "${FUZZ_SANITIZER:-}" ]; then
    echo "$FUZZ_SANITIZER"
    return
  fi
  case "$1" in
    swapmap_ops | zswap_ops | fault_path_ops) echo none ;;
    *) echo address ;;
  esac
}

# Targets fuzzed without a sanitizer whose corpus is then replayed on ASan.
asan_replay() {
  [ -z "${FUZZ_SANITIZER:-}" ] && [ "$1" = fault_path_ops ]
}

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "--- installing cargo-fuzz"
  cargo +nightly install cargo-fuzz --locked
fi

opts() {
  echo --fuzz-dir "$fuzz_dir" --target-dir "$fuzz_dir/target/$1" \
    --sanitizer "$1" --no-trace-compares --debug-assertions
}

# One build per sanitizer in use, of the targets that use it.
declare -A by_san=()
for t in "${TARGETS[@]}"; do
  s="$(sanitizer "$t")"
  by_san[$s]="${by_san[$s]:-} $t"
  if asan_replay "$t"; then by_san[address]="${by_san[address]:-} $t"; fi
done
for s in "${!by_san[@]}"; do
  echo "--- building with sanitizer $s:${by_san[$s]}"
  t0=$(date +%s)
  for t in ${by_san[$s]}; do
    # shellcheck disable=SC2046
    cargo +nightly fuzz build $(opts "$s") "$t"
  done
  echo "--- built ($s) in $(($(date +%s) - t0)) s"
done

failed=()
for t in "${TARGETS[@]}"; do
  s="$(sanitizer "$t")"
  mkdir -p "$fuzz_dir/corpus/$t" "$fuzz_dir/regressions/$t"
  dict=()
  [ -f "$fuzz_dir/dict/$t.dict" ] && dict=(-dict="$fuzz_dir/dict/$t.dict")
  echo "--- fuzz: $t for ${secs}s (sanitizer $s)"
  # -timeout: one input taking over 30 s is a hang (a retry loop that never
  # ends), reported as a crash.
  # shellcheck disable=SC2046,SC2086
  if ! cargo +nightly fuzz run $(opts "$s") "$t" \
    "$fuzz_dir/corpus/$t" "$fuzz_dir/regressions/$t" -- \
    -max_total_time="$secs" -timeout=30 -print_final_stats=1 "${dict[@]}" ${FUZZ_FLAGS:-}; then
    failed+=("$t")
    echo "### $t FAILED: the input is in fuzz/artifacts/$t/"
  elif asan_replay "$t"; then
    echo "--- replay: every input of $t once under AddressSanitizer"
    # shellcheck disable=SC2046
    if ! cargo +nightly fuzz run $(opts address) "$t" \
      "$fuzz_dir/corpus/$t" "$fuzz_dir/regressions/$t" -- -runs=0 -timeout=30; then
      failed+=("$t (ASan replay)")
      echo "### $t FAILED under ASan: the input is in fuzz/artifacts/$t/"
    fi
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "### fuzz targets that failed: ${failed[*]}"
  exit 1
fi
echo "--- all ${#TARGETS[@]} targets ran ${secs}s without a crash"
