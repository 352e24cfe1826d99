#!/usr/bin/env bash
# Checks that Cargo.toml's `rust-version` is true, as far as this machine
# can tell without the old toolchain itself (only the current stable and
# nightly are installed here, so `cargo +1.88 check` cannot run).
#
# Covered:
#   - every package in Cargo.lock (all platforms, dev and build dependencies
#     too) that declares a `rust-version` declares one no higher than ours:
#     this script;
#   - std APIs newer than ours: clippy's `incompatible_msrv` lint (on by
#     default, reads `rust-version` from Cargo.toml; `.ci/run` runs clippy
#     with `-D warnings`);
#   - the floor: let-chains (`if let … && …`, used throughout) are stable
#     since 1.88, so a lower number is refused here.
# Not covered: other language features and compiler behaviour newer than
# ours, and dependencies that declare no `rust-version` at all (they are
# listed, not failed). Only building with that toolchain proves those.
#
#   scripts/check-msrv.sh        exits 1 naming each offending package
set -euo pipefail
cd "$(dirname "$0")/.."

# Let-chains: stable in 1.88.
floor=1.88

command -v jq >/dev/null || { echo "check-msrv: jq not found" >&2; exit 1; }
meta=$(cargo metadata --format-version 1 --locked --offline 2>/dev/null ||
  cargo metadata --format-version 1 --locked)
ours=$(jq -r '.packages[] | select(.name == "callq") | .rust_version // empty' <<<"$meta")
[ -n "$ours" ] || { echo "check-msrv: Cargo.toml declares no rust-version" >&2; exit 1; }

# a.b[.c] → a.b.c, so that sort -V compares 1.85 and 1.85.0 as equal.
full() { local v=$1; [[ $v =~ ^[0-9]+\.[0-9]+$ ]] && v="$v.0"; echo "$v"; }
# True when version $1 is above version $2.
above() { [ "$(full "$1")" != "$(full "$2")" ] &&
  [ "$(printf '%s\n%s\n' "$(full "$1")" "$(full "$2")" | sort -V | tail -n1)" = "$(full "$1")" ]; }

status=0
if above "$floor" "$ours"; then
  echo "check-msrv: rust-version $ours is below $floor (let-chains need $floor)" >&2
  status=1
fi
undeclared=0
while read -r rv name version; do
  if [ "$rv" = "-" ]; then
    undeclared=$((undeclared + 1))
  elif above "$rv" "$ours"; then
    echo "check-msrv: $name $version needs Rust $rv, above callq's rust-version $ours" >&2
    status=1
  fi
done < <(jq -r '.packages[] | select(.name != "callq") | "\(.rust_version // "-") \(.name) \(.version)"' <<<"$meta")
count=$(jq '[.packages[] | select(.name != "callq")] | length' <<<"$meta")
if [ "$status" -eq 0 ]; then
  echo "check-msrv: rust-version $ours holds for $count locked packages ($undeclared declare none)"
fi
exit "$status"
