#!/usr/bin/env bash
# Runs Schemathesis (property-based API testing, from PyPI) against a real
# callq built from this tree, with the server's own /openapi.json, for every
# operation and every check.
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]      (default: 50 per operation)
#
# Starts callq on a throwaway SQLite database with freshly generated
# credentials (one tenant, every style), gives Schemathesis one credential per
# security scheme of the document (schemathesis.toml, [auth.openapi.*]), and
# stops callq at the end. Needs a Rust toolchain and Python 3 with pip;
# installs schemathesis 4 with pip when it is missing. Not part of
# `cargo test`: the result is kept in docs/schemathesis.md.
#
# Exit code: Schemathesis's own (0: no failure found).
set -euo pipefail
cd "$(dirname "$0")/.."

max_examples="${1:-50}"
# Time budgets: the whole Schemathesis run, and callq's start.
run_timeout_secs="${SCHEMATHESIS_TIMEOUT_SECS:-900}"
start_timeout_secs=60

if ! command -v schemathesis >/dev/null 2>&1; then
    python3 -m pip install --quiet 'schemathesis>=4,<5'
fi
schemathesis --version

cargo build --quiet --bin callq
bin="target/debug/callq"

work="$(mktemp -d)"
callq_pid=""
cleanup() {
    if [[ -n "$callq_pid" ]]; then
        kill "$callq_pid" 2>/dev/null || true
        wait "$callq_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A free port on the loopback interface.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
ucwa_token="cwt=$(secret)"
graph_token="$(secret)"
plivo_auth_id="MA$(python3 -c 'import secrets, string; print("".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(18)))')"
plivo_auth_token="$(secret)"
ops_token="$(secret)"

cat >"$work/callq.toml" <<EOF
listen = "127.0.0.1:$port"
database_url = "sqlite:$work/callq.db"

[[tenants]]
id = "schemathesis"
ucwa  = [{ token = "$ucwa_token", scopes = ["User.ReadWrite", "Conversations.Initiate", "Conversations.Receive"] }]
graph = [{ token = "$graph_token", roles = ["Calls.AccessMedia.All"] }]
plivo = [{ auth_id = "$plivo_auth_id", auth_token = "$plivo_auth_token" }]
ops   = [{ token = "$ops_token" }]
EOF

# One credential per security scheme named in /openapi.json. The Plivo
# credential is the Basic pair; the bearer schemes get their tokens as is.
#
# `cursor` is opaque (base64 of a position the server handed out), so no
# schema can generate a valid one: it is fixed to a cursor past every row
# (year 2100, so every page is whole), the one parameter not fuzzed.
cursor="$(python3 -c 'import base64; print(base64.urlsafe_b64encode(b"4102444800000000|00000000-0000-0000-0000-000000000000").decode().rstrip("="))')"
cat >"$work/schemathesis.toml" <<EOF
[parameters]
"query.cursor" = "$cursor"

[auth.openapi.ops_token]
bearer = "$ops_token"

[auth.openapi.ucwa_token]
bearer = "$ucwa_token"

[auth.openapi.graph_token]
bearer = "$graph_token"

[auth.openapi.plivo_basic]
username = "$plivo_auth_id"
password = "$plivo_auth_token"
EOF

RUST_LOG=warn CALLQ_CONFIG="$work/callq.toml" "$bin" serve >"$work/callq.log" 2>&1 &
callq_pid=$!
for _ in $(seq "$((start_timeout_secs * 10))"); do
    if curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$callq_pid" 2>/dev/null; then
        cat "$work/callq.log" >&2
        echo "callq did not start" >&2
        exit 1
    fi
    sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null

status=0
# Rules between two query parameters (until after since, …) cannot be
# written in OpenAPI: the hooks leave out generated requests that break them.
# Run from the temporary directory: Schemathesis keeps its replay cache
# (.schemathesis/) in the working directory, and the tree stays clean (the
# curl line printed with each failure reproduces it).
hooks="$PWD/scripts/schemathesis_hooks.py"
cd "$work"
SCHEMATHESIS_HOOKS="$hooks" \
timeout "$run_timeout_secs" schemathesis --config-file "$work/schemathesis.toml" run \
    "$base/openapi.json" \
    --checks all \
    --max-examples "$max_examples" \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --workers 1 \
    --request-timeout 10 \
    --no-color \
    "${@:2}" || status=$?
if grep -q "panicked" "$work/callq.log"; then
    echo "callq logged a panic:" >&2
    grep -A5 "panicked" "$work/callq.log" >&2
    status=1
fi
exit "$status"
