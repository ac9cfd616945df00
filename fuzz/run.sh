#!/usr/bin/env bash
# Usage: run.sh [SECONDS [TARGET...]]
# Builds the fuzz targets and runs each (default: all) for SECONDS (default 10) from a
# scratch copy of its seed corpus in corpus/ (so the repository's seeds
# stay small). Fails on the first crash, leak, timeout or assertion; the
# input that caused it is left in artifacts/TARGET/ and printed in hex.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
seconds=${1:-10}
shift || true
cd "$(dirname "$0")"

# The hosts targets keep their rule files in a directory under TMPDIR.
export TMPDIR=$PWD/target/tmp
rm -rf "$TMPDIR"
mkdir -p "$TMPDIR"

cargo +nightly fuzz build
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
for target in "${targets[@]}"; do
    work=target/corpus/$target
    rm -rf "$work"
    rm -rf "artifacts/$target"
    mkdir -p "$work" "artifacts/$target"
    cp corpus/"$target"/* "$work"/
    log=target/$target.log
    # -timeout: one input running this long is a hang.
    if ! cargo +nightly fuzz run "$target" "$work" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        for crash in "artifacts/$target"/*; do
            [ -f "$crash" ] && { echo "$crash:"; od -An -tx1 -v "$crash"; }
        done
        echo "fuzz: $target FAILED" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "fuzz: $target ok: $runs runs in ${seconds}s ($rate/s), corpus $(ls "$work" | wc -l) inputs"
done
