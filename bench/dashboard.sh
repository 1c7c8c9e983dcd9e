#!/usr/bin/env bash
# bench/dashboard.sh: how fast the dashboard's pages answer over a large
# request log. Seeds a database with N request records over 30 days
# (bench/seed.c, through the store's own writer, so the roll-ups are what
# a running gateway keeps), starts the gateway on it, and times every
# admin API call the dashboard's pages make, as a Markdown table.
#
#   bench/dashboard.sh            (needs build/switchboard and build/sb_bench_seed)
#
# Environment (all optional):
#   N=1000000      records to seed
#   RUNS=7         timed calls per endpoint (the median and the worst are shown)
#   DB=            an already-seeded database to reuse (skips seeding)
#   GW_PORT=18093  loopback port
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${SWITCHBOARD_BIN:-$ROOT/build/switchboard}"
SEED="${SB_BENCH_SEED:-$ROOT/build/sb_bench_seed}"
N="${N:-1000000}"
RUNS="${RUNS:-7}"
GW_PORT="${GW_PORT:-18093}"
ADMIN="sk-sb-admin-bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TMP="$(mktemp -d)"
GW_PID=""
cleanup() {
  [[ -n "$GW_PID" ]] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

for b in "$BIN" "$SEED"; do
  [[ -x "$b" ]] || { echo "dashboard.sh: $b is not built (cmake --build build)" >&2; exit 1; }
done

DB="${DB:-}"
if [[ -z "$DB" ]]; then
  DB="$TMP/bench.db"
  echo "seeding $N records..." >&2
  "$SEED" "$DB" "$N" 30 >&2
fi

SWITCHBOARD_ADMIN_KEY="$ADMIN" "$BIN" serve --port "$GW_PORT" --db "$DB" \
  >"$TMP/gw.log" 2>&1 &
GW_PID=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$GW_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

NOW=$(date -u +%s)
DAY0=$(date -u +%Y-%m-%d)
MONTH0=$(date -u +%Y-%m-01)
AGO30=$(date -u -d '30 days ago' +%Y-%m-%d)
H1=$((NOW - 3600)); H24=$((NOW - 86400)); D7=$((NOW - 7 * 86400))
LAST=$(curl -fs -H "authorization: Bearer $ADMIN" \
  "http://127.0.0.1:$GW_PORT/admin/v1/requests?limit=1" |
  sed -n 's/.*"data":\[{"id":\([0-9]*\).*/\1/p')

# page | what | path
CALLS=(
  "overview|last 24 h, hourly|/admin/v1/stats?since=$H24"
  "overview|last 30 days per model, daily|/admin/v1/stats?since=$AGO30&group=model"
  "overview|last hour, per minute (records)|/admin/v1/stats?since=$H1"
  "overview|cost today|/admin/v1/stats?since=$DAY0&bucket=day"
  "overview|cost this month|/admin/v1/stats?since=$MONTH0&bucket=day"
  "usage|30 days per model|/admin/v1/usage?since=$AGO30&group=model"
  "usage|7 days per key, hourly chart|/admin/v1/stats?since=$D7&group=key"
  "usage|key + model + provider + route|/admin/v1/stats?since=$AGO30&key=bench-key-03&model=openai/gpt-4o&provider=openai&route=smart&group=model"
  "usage|CSV export, per route|/admin/v1/usage.csv?since=$AGO30&group=route"
  "request log|newest 50|/admin/v1/requests?limit=50"
  "request log|errors only|/admin/v1/requests?limit=50&status=error"
  "request log|a rare key|/admin/v1/requests?limit=50&key=bench-key-19"
  "request log|a model, last hour|/admin/v1/requests?limit=50&model=openai/o3&since=$H1"
  "request log|page 100 (before_id)|/admin/v1/requests?limit=50&before_id=$((LAST - 5000))"
  "request log|live tail poll|/admin/v1/requests?after_id=$LAST"
  "request log|one record's detail|/admin/v1/requests/$((LAST / 2))"
  "keys|list|/admin/v1/keys"
  "keys|spend per key|/admin/v1/usage?group=key"
  "providers|per provider, last hour|/admin/v1/stats?since=$H1&group=provider&bucket=hour"
  "providers|per model, last 24 h|/admin/v1/stats?since=$H24&group=model"
  "mcp servers|calls per tool|/admin/v1/mcp/stats"
  "conversations|newest 20|/admin/v1/conversations?limit=20"
)

printf '%s records; %s calls each; milliseconds (curl time_total)\n\n' "$N" "$RUNS"
echo "| page | call | median ms | worst ms | bytes |"
echo "|---|---|---:|---:|---:|"
for c in "${CALLS[@]}"; do
  IFS='|' read -r page what path <<<"$c"
  times=()
  bytes=0
  for _ in $(seq "$RUNS"); do
    out=$(curl -s -o "$TMP/body" -w '%{http_code} %{time_total} %{size_download}' \
      -H "authorization: Bearer $ADMIN" "http://127.0.0.1:$GW_PORT$path")
    read -r code t bytes <<<"$out"
    if [[ "$code" != 200 ]]; then
      echo "dashboard.sh: $path answered $code: $(head -c 300 "$TMP/body")" >&2
      exit 1
    fi
    times+=("$t")
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -g)
  med=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")
  worst=$(tail -1 <<<"$sorted")
  printf '| %s | %s | %.1f | %.1f | %s |\n' "$page" "$what" \
    "$(awk "BEGIN{print $med*1000}")" "$(awk "BEGIN{print $worst*1000}")" "$bytes"
done
