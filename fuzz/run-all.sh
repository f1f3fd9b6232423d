#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS seconds each (default 60):
#   fuzz/run-all.sh SECONDS
# from any directory. Needs a nightly toolchain; installs cargo-fuzz if it is
# missing. Builds into fuzz/target with debug assertions on (the crates'
# debug_assert!s are part of what is checked) and AddressSanitizer.
#
# Each target runs on fuzz/corpus/<target>/: the committed seed-* inputs plus
# whatever earlier runs added there (SHA-1 names, ignored by git; commit a
# find by copying it to fuzz/regressions/<target>/). Regression inputs are
# loaded too. A crash leaves its input in fuzz/artifacts/<target>/; the
# script goes on with the other targets and exits 1 at the end.
#
# Extra libFuzzer flags can be passed in FUZZ_FLAGS (e.g. FUZZ_FLAGS=-jobs=2).
set -euo pipefail

secs="${1:-60}"
case "$secs" in
  '' | *[!0-9]*) echo "usage: $0 SECONDS" >&2; exit 2 ;;
esac

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir/.."

TARGETS=(swapmap_ops xarray_ops zswap_ops zswap_decompress fault_path_ops)

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "--- installing cargo-fuzz"
  cargo +nightly install cargo-fuzz --locked
fi

opts=(--fuzz-dir "$fuzz_dir" --target-dir "$fuzz_dir/target" --debug-assertions)

echo "--- building ${#TARGETS[@]} targets"
cargo +nightly fuzz build "${opts[@]}"

failed=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$fuzz_dir/corpus/$t" "$fuzz_dir/regressions/$t"
  echo "--- fuzz: $t for ${secs}s"
  # -timeout: one input taking over 30 s is a hang (a retry loop that never
  # ends), reported as a crash.
  # shellcheck disable=SC2086
  if ! cargo +nightly fuzz run "${opts[@]}" "$t" \
    "$fuzz_dir/corpus/$t" "$fuzz_dir/regressions/$t" -- \
    -max_total_time="$secs" -timeout=30 -print_final_stats=1 ${FUZZ_FLAGS:-}; then
    failed+=("$t")
    echo "### $t FAILED: the input is in fuzz/artifacts/$t/"
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "### fuzz targets that failed: ${failed[*]}"
  exit 1
fi
echo "--- all ${#TARGETS[@]} targets ran ${secs}s without a crash"
