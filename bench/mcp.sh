#!/usr/bin/env bash
# bench/mcp.sh: what the gateway's /mcp/<server> adds to an MCP tools/call,
# against a local Streamable HTTP MCP server called directly, in one run;
# prints a Markdown table (bench/mcp_bench.mjs does the calls).
#
#   bench/mcp.sh                     (needs build/switchboard already built)
#
# The upstream is bench/mcp_upstream.mjs, a minimal node:http MCP server
# whose tools/call echo costs next to nothing (UPSTREAM=fixture: the SDK-built
# tests/fixtures/mcp_fixture.mjs instead, which needs `npm ci` in tests/e2e
# and costs far more per call). The gateway federates it as server "bench"
# and runs open (no key), one worker by default. Measured per target: N
# sequential calls (latency p50/p99: the gateway's added latency is the
# difference) and M calls with CONC in flight; CPU µs per call of the
# gateway and of the upstream from /proc/PID/stat.
#
# Environment (all optional):
#   N=2000 M=4000 CONC=16 WARMUP=200   calls (see above)
#   WORKERS=1       gateway worker threads
#   LOG_LEVEL=info  gateway log level (its logs go to a file in the temp dir)
#   UPSTREAM=fast   or fixture
#   UP_PORT=18093 GW_PORT=18094   loopback ports used
#   SWITCHBOARD_BIN=build/switchboard
#   KEEP_TMP=1      keep the temp dir (config, logs) for inspection
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${SWITCHBOARD_BIN:-$ROOT/build/switchboard}"
N="${N:-2000}"
M="${M:-4000}"
CONC="${CONC:-16}"
WARMUP="${WARMUP:-200}"
WORKERS="${WORKERS:-1}"
GW_LOG_LEVEL="${LOG_LEVEL:-info}"
UPSTREAM="${UPSTREAM:-fast}"
UP_PORT="${UP_PORT:-18093}"
GW_PORT="${GW_PORT:-18094}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/mcp: %s\n' "$*" >&2; exit 1; }

for v in N M CONC WARMUP WORKERS UP_PORT GW_PORT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
((N > 0 && CONC > 0)) || die "N and CONC must be at least 1"
command -v node >/dev/null || die "node not found"
[[ -x "$BIN" ]] || die "$BIN not found: build it first (./.ci/bootstrap build)"
case "$UPSTREAM" in
  fast) UP_SCRIPT="$HERE/mcp_upstream.mjs" ;;
  fixture)
    UP_SCRIPT="$ROOT/tests/fixtures/mcp_fixture.mjs"
    [[ -d "$ROOT/tests/e2e/node_modules/@modelcontextprotocol/sdk" ]] ||
      die "UPSTREAM=fixture needs the MCP SDK: run npm ci in tests/e2e"
    ;;
  *) die "UPSTREAM must be fast or fixture (got '$UPSTREAM')" ;;
esac

TMP="$(mktemp -d /tmp/switchboard-bench-mcp.XXXXXX)"
UP_PID=""
GW_PID=""

stop() { # stop PID: SIGTERM, up to 5 s, then SIGKILL
  local pid="$1" i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop "$GW_PID"
  stop "$UP_PID"
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME PID CMD...: polls CMD for up to 15 s while PID is alive.
wait_for() {
  local name="$1" pid="$2" i
  shift 2
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "$name did not become ready in 15 s"
  return 1
}

# ------------------------------------------------------------ upstream ----
port_free "$UP_PORT" || die "port $UP_PORT is in use (set UP_PORT)"
log "starting the $UPSTREAM MCP upstream on 127.0.0.1:$UP_PORT"
node "$UP_SCRIPT" "$UP_PORT" >"$TMP/upstream.log" 2>&1 &
UP_PID=$!
wait_for upstream "$UP_PID" grep -q '^listening' "$TMP/upstream.log" ||
  { cat "$TMP/upstream.log" >&2; die "the upstream did not start"; }
UP="http://127.0.0.1:$UP_PORT/mcp"

# ------------------------------------------------------------- gateway ----
port_free "$GW_PORT" || die "port $GW_PORT is in use (set GW_PORT)"
cat >"$TMP/gateway.json" <<JSON
{
  "listen": {"host": "127.0.0.1", "port": $GW_PORT},
  "database": "$TMP/bench.db",
  "workers": $WORKERS,
  "log_level": "$GW_LOG_LEVEL",
  "mcp_servers": {"bench": {"transport": "http", "url": "$UP"}}
}
JSON
log "starting $BIN on 127.0.0.1:$GW_PORT ($WORKERS worker(s))"
env -u HOST -u PORT -u SWITCHBOARD_DB -u SWITCHBOARD_WORKERS -u LOG_LEVEL -u SWITCHBOARD_ADMIN_KEY \
  "$BIN" serve --config "$TMP/gateway.json" >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
GW="http://127.0.0.1:$GW_PORT"
servers_up() { curl -fsS --max-time 2 "$GW/metrics" | grep -Eq '^switchboard_mcp_servers_up(\{[^}]*\})? [1-9]'; }
if ! wait_for gateway "$GW_PID" servers_up; then
  tail -n 30 "$TMP/gateway.log" >&2 || true
  die "the gateway did not start, or did not bring server 'bench' up (log above)"
fi

# ---------------------------------------------------------- measuring ----
rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
TABLE="$(node "$HERE/mcp_bench.mjs" --direct "$UP" --gateway "$GW/mcp/bench" \
  --gateway-pid "$GW_PID" --upstream-pid "$UP_PID" --clk-tck "$(getconf CLK_TCK)" \
  --n "$N" --m "$M" --conc "$CONC" --warmup "$WARMUP")" ||
  { tail -n 30 "$TMP/gateway.log" >&2; die "the measurement failed"; }

echo
echo "## Switchboard MCP benchmark ($(date -u +%Y-%m-%dT%H:%MZ), commit $rev)"
echo
echo "$(nproc) cores, tools/call echo via /mcp/bench vs the upstream directly ($UPSTREAM: $(basename "$UP_SCRIPT")), node $(node --version) client;"
echo "gateway workers: $WORKERS, log level: $GW_LOG_LEVEL; $N sequential calls, $M calls with $CONC in flight, after $WARMUP warm-up calls per target."
echo
echo "$TABLE"
