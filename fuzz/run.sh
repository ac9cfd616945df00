#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 10) from a
# scratch copy of its seed corpus in corpus/ (so the repository's seeds
# stay small). Fails on the first crash, leak, timeout or assertion; the
# input that caused it is left in artifacts/TARGET/ and printed in hex.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
seconds=${1:-10}
cd "$(dirname "$0")"

cargo +nightly fuzz build
for target in $(cargo +nightly fuzz list); do
    work=target/corpus/$target
    rm -rf "$work"
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
