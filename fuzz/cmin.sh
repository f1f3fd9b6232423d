#!/usr/bin/env bash
# Minimises a target's corpus into the committed cmin-* inputs:
#   fuzz/cmin.sh TARGET...
# For each target: every input of fuzz/corpus/<target>/ (seeds, the
# previous cmin-* set, and what fuzz runs added under SHA-1 names) goes
# through `cargo fuzz cmin` in a scratch directory; the inputs it keeps that
# are not seeds become fuzz/corpus/<target>/cmin-<sha1> (committed: git
# ignores only bare 40-hex names), and the old cmin-* and SHA-1 files are
# removed. Seeds (seed-*, and swapmap_ops' table-*) are never renamed or
# removed. run-all.sh fuzzes from the directory, and `cargo test` replays
# every non-SHA-1 input in it (fuzz_replay), so the minimised corpus is a
# regression suite on stable too.
#
# Built as run-all.sh builds the target (FUZZ_SANITIZER as there; none by
# default here, as cmin only needs coverage).
set -euo pipefail

[ "$#" -ge 1 ] || { echo "usage: $0 TARGET..." >&2; exit 2; }
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir/.."
san="${FUZZ_SANITIZER:-none}"
opts=(--fuzz-dir "$fuzz_dir" --target-dir "$fuzz_dir/target/$san"
  --sanitizer "$san" --no-trace-compares --debug-assertions)

is_generated() { [[ "$1" =~ ^[0-9a-f]{40}$ ]]; }

for t in "$@"; do
  dir="$fuzz_dir/corpus/$t"
  [ -d "$dir" ] || { echo "no corpus for $t" >&2; exit 2; }
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  mkdir "$scratch/in"
  cp "$dir"/* "$scratch/in/"
  before=$(find "$scratch/in" -type f | wc -l)
  # cmin keeps, of inputs with equal coverage, the smallest.
  cargo +nightly fuzz cmin "${opts[@]}" "$t" "$scratch/in" -- -timeout=30 >"$scratch/log" 2>&1 ||
    { tail -20 "$scratch/log"; exit 1; }
  # Seeds by content, so that a kept seed is not committed twice.
  declare -A seed_sums=()
  for f in "$dir"/*; do
    n="$(basename "$f")"
    is_generated "$n" || [[ "$n" == cmin-* ]] && continue
    seed_sums[$(sha1sum <"$f" | cut -c1-40)]=1
  done
  for f in "$dir"/*; do
    n="$(basename "$f")"
    if is_generated "$n" || [[ "$n" == cmin-* ]]; then rm -f "$f"; fi
  done
  kept=0
  for f in "$scratch/in"/*; do
    sum="$(sha1sum <"$f" | cut -c1-40)"
    [ -n "${seed_sums[$sum]:-}" ] && continue
    cp "$f" "$dir/cmin-$sum"
    kept=$((kept + 1))
  done
  unset seed_sums
  echo "--- $t: $before inputs -> $(find "$scratch/in" -type f | wc -l) after cmin; $kept committed as cmin-*"
  rm -rf "$scratch"
  trap - EXIT
done
