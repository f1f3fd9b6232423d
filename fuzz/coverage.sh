#!/usr/bin/env bash
# Line coverage of a crate's src/ by the corpora of its fuzz targets:
#   fuzz/coverage.sh CRATE_DIR TARGET...
# e.g. fuzz/coverage.sh swapcache xarray_ops swapcache_ops
# `cargo fuzz coverage` replays fuzz/corpus/TARGET and fuzz/regressions/TARGET
# of each target on an instrumented build (no sanitizer); the profiles are
# merged, and llvm-cov prints the per-file line coverage of CRATE_DIR/src/
# (without src/fuzzing.rs, the targets' own model and decoder) and lists the
# functions of it that no input ran (demangled; Debug/Display impls and
# generic instances of other crates dropped). Installs cargo-fuzz, rustfilt
# and the nightly llvm-tools if missing.
# Output: fuzz/coverage/CRATE_DIR/{report.txt,uncovered.txt} (git-ignored).
set -euo pipefail

[ "$#" -ge 2 ] || { echo "usage: $0 CRATE_DIR TARGET..." >&2; exit 2; }
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$fuzz_dir/.." && pwd)"
cd "$root"
crate="$1"
shift
src="$root/$crate/src"
[ -d "$src" ] || { echo "no $crate/src" >&2; exit 2; }

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo +nightly install cargo-fuzz --locked
fi
sysroot="$(rustc +nightly --print sysroot)"
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin="$sysroot/lib/rustlib/$host/bin"
[ -x "$bin/llvm-cov" ] || rustup component add llvm-tools-preview --toolchain nightly
command -v rustfilt >/dev/null || cargo install rustfilt --locked

out="$fuzz_dir/coverage/$crate"
mkdir -p "$out"
profiles=()
objects=()
for t in "$@"; do
  echo "--- coverage: replaying $t"
  cargo +nightly fuzz coverage --fuzz-dir "$fuzz_dir" \
    --target-dir "$fuzz_dir/target/coverage" "$t" \
    "$fuzz_dir/corpus/$t" "$fuzz_dir/regressions/$t" >"$out/$t.log" 2>&1 ||
    { tail -20 "$out/$t.log"; exit 1; }
  profiles+=("$fuzz_dir/coverage/$t/coverage.profdata")
  exe="$(find "$fuzz_dir/target/coverage" -path "*/release/$t" -type f -perm -u+x | head -1)"
  if [ "${#objects[@]}" -eq 0 ]; then objects=("$exe"); else objects+=(-object "$exe"); fi
done
"$bin/llvm-profdata" merge -sparse "${profiles[@]}" -o "$out/merged.profdata"
cov=("${objects[@]}" -instr-profile="$out/merged.profdata"
  -ignore-filename-regex='fuzzing\.rs$')
"$bin/llvm-cov" report "${cov[@]}" "$src" >"$out/report.txt"
# Functions defined in src/ that no input ran, from the JSON export.
"$bin/llvm-cov" export "${cov[@]}" -skip-expansions "$src" |
  python3 -c '
import json, sys
src = sys.argv[1]
# One source function may have several records (a generic instance per
# type, per binary, and a stub for the uninstantiated generic): it is
# unrun only if every record of its (file, first line) has count 0.
seen = {}
for f in json.load(sys.stdin)["data"][0]["functions"]:
    file = f["filenames"][0]
    if not file.startswith(src) or file.endswith("fuzzing.rs"):
        continue
    key = (file, f["regions"][0][0])
    count, name = seen.get(key, (0, f["name"]))
    seen[key] = (max(count, f["count"]), name)
print("\n".join(sorted(n for c, n in seen.values() if c == 0)))
' "$src" | rustfilt | sed 's/::h[0-9a-f]\{16\}$//' | grep -v 'fmt$' | sort -u >"$out/uncovered.txt"
grep -v '^---' "$out/report.txt" | awk '{print $1, "lines", $(NF-5), "missed", $(NF-4), $(NF-3)}' | column -t
echo "--- $(grep -c . "$out/uncovered.txt" || true) functions never run: $out/uncovered.txt"
