#!/usr/bin/env bash
# Runs every callq fuzz target for a number of executions, one after another,
# on one job, so a shared machine keeps its other cores.
#
#   scripts/fuzz.sh [RUNS] [TARGET...]     (default: 1000000 runs, all targets)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Each target starts from its committed seeds (fuzz/seeds/<target>) and grows
# fuzz/corpus/<target> (not committed); findings land in fuzz/artifacts/.
# Builds without a sanitizer (callq is safe Rust: what the fuzzer looks for
# is panics, hangs and blow-ups) but with debug assertions, so integer
# overflow panics instead of wrapping. Prints one summary line per target.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-1000000}"
shift || true
all=(ucwa_json ucwa_xml ms_qoe graph_body graph_duration plivo_body)
targets=("${@:-${all[@]}}")

# Longest input per target: room for realistic bodies (the seeds are up to
# ~5 KB) without spending the budget on megabyte inputs.
max_len() {
    case "$1" in
        graph_duration) echo 256 ;;
        plivo_body) echo 4096 ;;
        *) echo 16384 ;;
    esac
}

# Token dictionaries: XML names for the XML decoders, JSON keys and values
# for the JSON ones, designators and separators for the duration parser.
dict_of() {
    case "$1" in
        ucwa_xml | ms_qoe) echo "-dict=fuzz/dicts/xml.dict" ;;
        ucwa_json | graph_body | plivo_body) echo "-dict=fuzz/dicts/json.dict" ;;
        graph_duration) echo "-dict=fuzz/dicts/duration.dict" ;;
    esac
}

flags=(--sanitizer none --debug-assertions)
cargo +nightly fuzz build "${flags[@]}"

status=0
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" fuzz/artifacts
    log="fuzz/artifacts/$t.log"
    start=$(date +%s)
    if cargo +nightly fuzz run "${flags[@]}" "$t" \
        "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -runs="$runs" -max_len="$(max_len "$t")" "$(dict_of "$t")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    per_sec=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "$t: $result, $execs executions in ${secs}s ($per_sec/s); log $log"
done
exit "$status"
