#!/usr/bin/env bash
# bench/run.sh: measures Switchboard against a fast local upstream called
# directly and through an nginx reverse-proxy hop (the floor a proxy can
# reach), in one run, and prints Markdown tables with ratios.
#
#   ./.ci/bootstrap bench            (installs, builds, then runs this)
#   bench/run.sh                     (needs build/switchboard already built)
#
# The upstream is nginx answering POST /v1/chat/completions with a fixed
# chat.completion (and POST /sse/v1/chat/completions with a fixed 21-chunk
# SSE stream, each event its own HTTP chunk as real upstreams send them, via
# Debian's nginx echo module; /slow/... drips the same events 100 ms apart;
# /anthropic/v1/messages answers a fixed Anthropic message), so it costs
# next to nothing. The nginx hop is a second nginx (proxy_pass with upstream
# keep-alive, proxy_buffering off, one worker); Switchboard runs as it must
# in production: a gateway key checked on every request, every request
# recorded in SQLite, usage counted.
#
# The method: wrk -t1 with a ~1 KB chat request (system + user message,
# bench/post.lua); CPU µs per request from /proc/PID/stat utime+stime
# deltas of the proxy process (the stable metric on a small box, where
# req/s mostly measures CPU contention between wrk, the upstream and the
# proxy). Phases: 64 connections non-stream, 64 connections stream, one
# connection (the latency a hop adds), the translation paths (Anthropic
# Messages in -> OpenAI-compatible out, Chat in -> Anthropic out) and
# SLOW_CONNS concurrent slow-drip streams (memory per stream).
#
# Environment (all optional):
#   DURATION=8      seconds per measured run ("8s" works too)
#   CONNS=64        connections of the loaded runs (a 1-connection run follows)
#   WARMUP=2        seconds of unmeasured load before each target's first run
#   WORKERS=1       gateway worker threads
#   LOG_LEVEL=info  gateway log level (its logs go to a file in the temp dir)
#   STREAM=1        0 skips the streaming rows
#   TRANSLATE=1     0 skips the translation rows
#   SLOW_CONNS=2000 concurrent slow-drip streams (0 skips that phase)
#   LONG_REQUESTS=0 at the end, this many more non-stream requests through
#                   the gateway, its RSS sampled every LONG_STEP seconds
#                   (10): is memory flat? (0 skips; 1000000 takes ~2 min)
#   GATEWAY=1       0 measures the upstream and the hop only
#   UP_PORT=18091 GW_PORT=18092 HOP_PORT=18093   loopback ports used
#   SWITCHBOARD_BIN=build/switchboard
#   KEEP_TMP=1      keep the temp dir (configs, logs, wrk output) for inspection
#   PERF_DATA=FILE  record `perf record -g` of the gateway during its
#                   non-stream 64-connection run into FILE (its numbers then
#                   include perf's own overhead)
#   CALLGRIND=1     instead of the table: the gateway runs under valgrind's
#                   callgrind and the script prints the user-space
#                   instructions it executes per non-stream request (every
#                   thread, 8 connections, DURATION seconds), a count that
#                   does not move with the box's load as CPU time does; the
#                   profile stays in the temp dir (KEEP_TMP=1 keeps it)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${SWITCHBOARD_BIN:-$ROOT/build/switchboard}"
DURATION="${DURATION:-8}"
DURATION="${DURATION%s}"
CONNS="${CONNS:-64}"
WARMUP="${WARMUP:-2}"
WORKERS="${WORKERS:-1}"
GW_LOG_LEVEL="${LOG_LEVEL:-info}"
STREAM="${STREAM:-1}"
GATEWAY="${GATEWAY:-1}"
UP_PORT="${UP_PORT:-18091}"
GW_PORT="${GW_PORT:-18092}"
HOP_PORT="${HOP_PORT:-18093}"
TRANSLATE="${TRANSLATE:-1}"
SLOW_CONNS="${SLOW_CONNS:-2000}"
LONG_REQUESTS="${LONG_REQUESTS:-0}"
LONG_STEP="${LONG_STEP:-10}"
CALLGRIND="${CALLGRIND:-0}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

for v in DURATION CONNS WARMUP WORKERS UP_PORT GW_PORT HOP_PORT TRANSLATE SLOW_CONNS LONG_REQUESTS LONG_STEP; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
((DURATION > 0 && DURATION <= 600)) || die "DURATION must be 1..600 seconds"

# ------------------------------------------------------------ packages ----
# wrk and nginx are bench-only tools, so .ci/bootstrap deps leaves them out;
# the echo module lets nginx flush each SSE event as its own chunk; curl is
# used for the readiness and sanity probes.
need=()
bench_pkgs=(wrk nginx libnginx-mod-http-echo curl)
[[ "$CALLGRIND" == 1 ]] && bench_pkgs+=(valgrind)
for p in "${bench_pkgs[@]}"; do
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" == installed ]] ||
    need+=("$p")
done
if ((${#need[@]})); then
  if ((EUID != 0)); then
    die "missing packages; install them with:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}"
  fi
  log "installing ${need[*]}"
  # Note: on a systemd machine Debian's nginx package also enables its own
  # service on port 80; the bench never uses that instance.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq </dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${need[@]}" </dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
[[ -x "$NGINX" ]] || die "nginx not found"
ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so
[[ -f "$ECHO_MODULE" ]] || die "$ECHO_MODULE not found (package libnginx-mod-http-echo)"

if ((GATEWAY)); then
  [[ -x "$BIN" ]] || die "$BIN not found: build it first (./.ci/bootstrap build), or GATEWAY=0"
fi

# -------------------------------------------------- temp dir + cleanup ----
TMP="$(mktemp -d /tmp/switchboard-bench.XXXXXX)"
# nginx workers may run as another user (when started as root) and must be
# able to reach their temp paths.
chmod 755 "$TMP"
NGINX_PID=""
HOP_PID=""
GW_PID=""

# stop PID: SIGTERM, wait up to 5 s, then SIGKILL (plus the children it had,
# so that nginx workers are never left behind).
stop() {
  local pid="$1" kids i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kids="$(children_of "$pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for 5 s: killing it"
    # shellcheck disable=SC2086 # $kids is a list of pids
    kill -KILL "$pid" $kids 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop "$GW_PID"
  stop "$HOP_PID"
  stop "$NGINX_PID"
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then
    log "kept $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------- /proc helpers ----

# children_of PID: the pids whose parent is PID (no procps needed).
children_of() {
  awk -v p="$1" '{ sub(/^.*\) /, ""); if ($2 == p) print FILENAME }' \
    /proc/[0-9]*/stat 2>/dev/null | sed 's#^/proc/##; s#/stat$##' | tr '\n' ' '
}

# cpu_ticks PID...: utime+stime of the processes (all their threads), in
# clock ticks. After the ") " that ends the comm field, utime and stime
# (fields 14 and 15 of proc(5)) are words 12 and 13.
cpu_ticks() {
  local pid sum=0 t
  for pid in "$@"; do
    t="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)"
    sum=$((sum + t))
  done
  echo "$sum"
}

rss_mb() { awk '/^VmRSS:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$1/status"; }

CLK_TCK="$(getconf CLK_TCK)"

# ------------------------------------------------------------ upstream ----
JSON_REPLY='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}'

# 20 chat.completion.chunk events, as OpenAI sends them when the client asks
# for usage (which the gateway does by default): role + 17 content chunks,
# a finish_reason chunk, a usage chunk, then [DONE]. Each event is one echo
# + echo_flush, so nginx sends it as its own chunk of a chunked response, as
# a real streaming upstream does. `\n` is nginx's escape for a newline inside
# a quoted string.
# sse_event CHOICES [EXTRA]: the nginx directives that send one event.
sse_event() {
  local json='{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":['"$1"']'"${2:-}"'}'
  printf '      echo -n %s; echo_flush;\n' "'data: $json\n\n'"
}
SSE_ECHO="$(
  sse_event '{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}'
  for i in $(seq 1 17); do
    sse_event '{"index":0,"delta":{"content":"word'"$i"' "},"finish_reason":null}'
  done
  sse_event '{"index":0,"delta":{},"finish_reason":"stop"}'
  sse_event '' ',"usage":{"prompt_tokens":9,"completion_tokens":17,"total_tokens":26}'
  printf '      echo -n %s;\n' "'data: [DONE]\n\n'"
)"

# The same events 100 ms apart: a model generating (the slow-drip phase).
SLOW_ECHO="${SSE_ECHO//echo_flush;/echo_flush; echo_sleep 0.1;}"
ANTHROPIC_REPLY='{"id":"msg_bench","type":"message","role":"assistant","model":"m-anth","content":[{"type":"text","text":"Hello! How can I help you today?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":9}}'

# Shared by both nginx instances: temp paths under $TMP (nginx's compiled-in
# ones are under /var/lib/nginx), no access log, long keep-alive (wrk and
# the proxies keep their connections for the whole run).
nginx_common() {
  cat <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
EOF
}
nginx_http_common() {
  cat <<EOF
  access_log off;
  client_body_temp_path $TMP/$1-body;
  proxy_temp_path $TMP/$1-proxy;
  fastcgi_temp_path $TMP/$1-fastcgi;
  uwsgi_temp_path $TMP/$1-uwsgi;
  scgi_temp_path $TMP/$1-scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
EOF
}

cat >"$TMP/nginx.conf" <<EOF
# Generated by bench/run.sh: a fixed-reply OpenAI-compatible upstream.
load_module $ECHO_MODULE;
$(nginx_common)
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
http {
$(nginx_http_common up)
  server {
    listen 127.0.0.1:$UP_PORT;
    location = /v1/chat/completions {
      default_type application/json;
      return 200 '$JSON_REPLY';
    }
    location = /sse/v1/chat/completions {
      default_type text/event-stream;
      add_header Cache-Control no-cache;
$SSE_ECHO
    }
    location = /slow/v1/chat/completions {
      default_type text/event-stream;
      add_header Cache-Control no-cache;
$SLOW_ECHO
    }
    location = /anthropic/v1/messages {
      default_type application/json;
      return 200 '$ANTHROPIC_REPLY';
    }
    location ~ ^/(sse/|slow/|anthropic/)?v1/models\$ {
      default_type application/json;
      return 200 '{"object":"list","data":[{"id":"m","object":"model","created":0,"owned_by":"bench"}]}';
    }
    location / { return 404; }
  }
}
EOF

# The floor: a plain reverse-proxy hop, as one would deploy nginx in front
# of an LLM API (keep-alive to the upstream, no response buffering so that
# streams pass event by event).
cat >"$TMP/hop.conf" <<EOF
# Generated by bench/run.sh: nginx as a reverse-proxy hop to the upstream.
$(nginx_common)
pid $TMP/hop.pid;
error_log $TMP/hop-error.log warn;
http {
$(nginx_http_common hop)
  upstream up {
    server 127.0.0.1:$UP_PORT;
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:$HOP_PORT;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME PID CMD...: polls CMD for up to 10 s while PID is alive.
wait_for() {
  local name="$1" pid="$2" i
  shift 2
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "$name did not become ready in 10 s"
  return 1
}

post() { # post URL BODY [HEADER]: prints the response body, fails on a non-2xx status
  curl -fsS --max-time 5 -H 'Content-Type: application/json' ${3:+-H "$3"} --data-binary "$2" "$1"
}

port_free "$UP_PORT" || die "port $UP_PORT is in use (set UP_PORT)"
port_free "$HOP_PORT" || die "port $HOP_PORT is in use (set HOP_PORT)"
log "starting nginx on 127.0.0.1:$UP_PORT (upstream) and 127.0.0.1:$HOP_PORT (hop)"
# Not on our stdout: a pipe reading this script's table must not wait for
# an nginx that is slow to exit.
"$NGINX" -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf" </dev/null >/dev/null 2>&1 &
NGINX_PID=$!
"$NGINX" -e "$TMP/hop-error.log" -p "$TMP" -c "$TMP/hop.conf" </dev/null >/dev/null 2>&1 &
HOP_PID=$!
UP="http://127.0.0.1:$UP_PORT"
HOP="http://127.0.0.1:$HOP_PORT"
if ! wait_for nginx "$NGINX_PID" post "$UP/v1/chat/completions" '{}'; then
  cat "$TMP/nginx-error.log" >&2 || true
  die "nginx did not start"
fi
if ! wait_for "nginx hop" "$HOP_PID" post "$HOP/v1/chat/completions" '{}'; then
  cat "$TMP/hop-error.log" >&2 || true
  die "the nginx hop did not start"
fi
nginx_pids() { echo "$NGINX_PID $(children_of "$NGINX_PID")"; }
hop_pids() { echo "$HOP_PID $(children_of "$HOP_PID")"; }
# rss_kb_sum PID...: resident memory of the processes together, in KB.
rss_kb_sum() {
  local pid sum=0 k
  for pid in "$@"; do
    k="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
    sum=$((sum + ${k:-0}))
  done
  echo "$sum"
}

# ------------------------------------------------------------- gateway ----
BENCH_KEY=""
GW_IDLE_RSS="–"
if ((GATEWAY)); then
  port_free "$GW_PORT" || die "port $GW_PORT is in use (set GW_PORT)"
  # Provider instances on the same nginx: `up` serves model "m" (plain
  # JSON), `sse` "m-sse" from the location that streams, `slow` "m-slow"
  # from the one that drips, `anth` (Anthropic Messages) "m-anth". Bare
  # model names resolve because each is listed by exactly one provider, so
  # the same request bodies work against the gateway, the hop and nginx.
  cat >"$TMP/gateway.json" <<EOF
{
  "listen": {"host": "127.0.0.1", "port": $GW_PORT},
  "database": "$TMP/bench.db",
  "workers": $WORKERS,
  "log_level": "$GW_LOG_LEVEL",
  "providers": [
    {"name": "up", "kind": "openai", "base_url": "$UP/v1",
     "api_key_env": "SWITCHBOARD_CRED_BENCH_UPSTREAM", "models": ["m"]},
    {"name": "sse", "kind": "openai", "base_url": "$UP/sse/v1",
     "api_key_env": "SWITCHBOARD_CRED_BENCH_UPSTREAM", "models": ["m-sse"]},
    {"name": "slow", "kind": "openai", "base_url": "$UP/slow/v1",
     "api_key_env": "SWITCHBOARD_CRED_BENCH_UPSTREAM", "models": ["m-slow"]},
    {"name": "anth", "kind": "anthropic", "base_url": "$UP/anthropic",
     "api_key_env": "SWITCHBOARD_CRED_BENCH_UPSTREAM", "models": ["m-anth"]}
  ]
}
EOF
  # Settings come from the config file only: clear the environment variables
  # that would override it (flag > environment > config file).
  # exec: the background job's pid is then the gateway's own.
  gw_env() {
    exec env -u HOST -u PORT -u SWITCHBOARD_DB -u SWITCHBOARD_WORKERS -u LOG_LEVEL \
      -u SWITCHBOARD_ADMIN_KEY SWITCHBOARD_CRED_BENCH_UPSTREAM=sk-bench "$@"
  }
  # A gateway key closes /v1: every request is then checked against it,
  # and its usage counted, as in production.
  BENCH_KEY="$(gw_env "$BIN" keys create --name bench --config "$TMP/gateway.json" </dev/null)" ||
    die "could not create a gateway key"
  [[ "$BENCH_KEY" == sk-sb-* ]] || die "unexpected key: $BENCH_KEY"
  log "starting $BIN on 127.0.0.1:$GW_PORT ($WORKERS worker(s))"
  GW_RUN=("$BIN")
  # Counting starts once the gateway is up and warm (callgrind_control).
  [[ "$CALLGRIND" == 1 ]] &&
    GW_RUN=(valgrind --tool=callgrind --instr-atstart=no
      "--callgrind-out-file=$TMP/callgrind.out.%p" "$BIN")
  gw_env "${GW_RUN[@]}" serve --config "$TMP/gateway.json" >"$TMP/gateway.log" 2>&1 &
  GW_PID=$!
  GW="http://127.0.0.1:$GW_PORT"
  if ! wait_for gateway "$GW_PID" curl -fsS --max-time 2 "$GW/healthz"; then
    tail -n 30 "$TMP/gateway.log" >&2 || true
    die "the gateway did not start (log above)"
  fi
  AUTH="Authorization: Bearer $BENCH_KEY"
  # Benchmarking error responses would be meaningless: check one of each.
  [[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
    "$GW/v1/chat/completions")" == 401 ]] || die "gateway: a request without the key was not refused"
  body="$(post "$GW/v1/chat/completions" '{"model":"m","messages":[{"role":"user","content":"hi"}]}' "$AUTH")" ||
    { tail -n 30 "$TMP/gateway.log" >&2; die "gateway: non-stream request failed"; }
  [[ "$body" == *'"chat.completion"'* ]] || die "gateway: unexpected reply: $body"
  if ((STREAM)); then
    body="$(post "$GW/v1/chat/completions" '{"model":"m-sse","stream":true,"messages":[{"role":"user","content":"hi"}]}' "$AUTH")" ||
      { tail -n 30 "$TMP/gateway.log" >&2; die "gateway: stream request failed"; }
    [[ "$body" == *'data: [DONE]'* ]] || die "gateway: stream did not end with [DONE]: $body"
  fi
  if ((TRANSLATE)); then
    body="$(post "$GW/v1/messages" '{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' "$AUTH")" ||
      { tail -n 30 "$TMP/gateway.log" >&2; die "gateway: Messages -> OpenAI request failed"; }
    [[ "$body" == *'"type":"message"'* ]] || die "gateway: unexpected Messages reply: $body"
    body="$(post "$GW/v1/chat/completions" '{"model":"m-anth","messages":[{"role":"user","content":"hi"}]}' "$AUTH")" ||
      { tail -n 30 "$TMP/gateway.log" >&2; die "gateway: Chat -> Anthropic request failed"; }
    [[ "$body" == *'"chat.completion"'* ]] || die "gateway: unexpected Chat reply from Anthropic: $body"
  fi
  GW_IDLE_RSS="$(rss_mb "$GW_PID")"
fi

# ---------------------------------------------------------- measuring ----
ROWS=()
TROWS=()
SROWS=()

fmt_latency() { awk -v us="$1" 'BEGIN { if (us < 1000) printf "%d µs", us; else printf "%.2f ms", us / 1000 }'; }
# ratio A B: A ÷ B as "2.3×", or – when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^-?[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.1f×", a / b; else print "–" }'; }

# wrk_run CONNS SECONDS URL MODEL STREAM [API]: runs wrk, appends its output
# to $TMP/wrk.log and leaves the parsed BENCH line in the array W.
declare -A W
wrk_run() {
  local conns="$1" secs="$2" url="$3" model="$4" stream="$5" api="${6:-chat}" out kv line words
  # timeout: wrk's own -d bounds the run; this bounds a wedged wrk too.
  out="$(BENCH_MODEL="$model" BENCH_STREAM="$stream" BENCH_API="$api" BENCH_KEY="$BENCH_KEY" \
    timeout --foreground --kill-after=5 $((secs + 30)) \
    wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s --latency -s "$HERE/post.lua" "$url")" ||
    die "wrk failed against $url"
  printf '### wrk -c%s -d%ss %s (model %s, %s)\n%s\n\n' "$conns" "$secs" "$url" "$model" "$api" "$out" >>"$TMP/wrk.log"
  W=()
  line="$(grep '^BENCH ' <<<"$out" || true)"
  read -ra words <<<"${line#BENCH }"
  for kv in "${words[@]}"; do
    W[${kv%%=*}]="${kv#*=}"
  done
  [[ -n "${W[requests]:-}" ]] || die "no BENCH line in wrk output: $out"
}

# The measured results, by "phase/target", for the ratio columns.
declare -A CPU P50
# The pids of a target's proxy process ("" for the upstream directly).
proxy_pids() {
  case "$1" in
  hop) hop_pids ;;
  gw) echo "$GW_PID" ;;
  *) echo "" ;;
  esac
}

# run_measured TARGET CONNS URL MODEL STREAM API: one wrk run; leaves in M
# the req/s, errors, proxy and upstream CPU µs per request.
declare -A M
run_measured() {
  local target="$1" conns="$2" url="$3" model="$4" stream="$5" api="$6"
  local pids up0 up1 px0=0 px1=0 n
  pids="$(proxy_pids "$target")"
  # shellcheck disable=SC2046 # word-splitting the pid lists is intended
  up0="$(cpu_ticks $(nginx_pids))"
  # shellcheck disable=SC2086
  [[ -n "$pids" ]] && px0="$(cpu_ticks $pids)"
  wrk_run "$conns" "$DURATION" "$url" "$model" "$stream" "$api"
  # shellcheck disable=SC2046
  up1="$(cpu_ticks $(nginx_pids))"
  # shellcheck disable=SC2086
  [[ -n "$pids" ]] && px1="$(cpu_ticks $pids)"
  n="${W[requests]}"
  per_req() { awk -v t="$1" -v hz="$CLK_TCK" -v n="$n" 'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "–" }'; }
  M=()
  M[rps]="$(awk -v n="$n" -v us="${W[duration_us]}" 'BEGIN { printf "%.0f", n / (us / 1e6) }')"
  M[errors]=$((W[errors_connect] + W[errors_read] + W[errors_write] + W[errors_status] + W[errors_timeout]))
  M[up_cpu]="$(per_req $((up1 - up0)))"
  M[px_cpu]="–"
  M[rss]="–"
  if [[ -n "$pids" ]]; then
    M[px_cpu]="$(per_req $((px1 - px0)))"
    # shellcheck disable=SC2086
    M[rss]="$(awk -v k="$(rss_kb_sum $pids)" 'BEGIN { printf "%.1f MB", k / 1024 }')"
  fi
}

# shellcheck disable=SC2034 # read through ${!label}
LABEL_direct="upstream directly"
# shellcheck disable=SC2034

LABEL_hop="nginx reverse-proxy hop"
# shellcheck disable=SC2034
LABEL_gw="Switchboard"

# measure PHASE TARGET CONNS PATH MODEL STREAM: one row of the main table.
measure() {
  local phase="$1" target="$2" conns="$3" path="$4" model="$5" stream="$6" base url label
  case "$target" in
  hop) base="$HOP" ;;
  gw) base="$GW" ;;
  *) base="$UP" ;;
  esac
  url="$base$path"
  label="LABEL_$target"
  log "measuring: $phase, ${!label}, $conns connection(s), ${DURATION}s"
  local perf_pid=""
  if [[ -n "${PERF_DATA:-}" && "$target" == gw && "$phase" == non-stream ]]; then
    perf record -q -g -p "$GW_PID" -o "$PERF_DATA" -- sleep "$DURATION" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  run_measured "$target" "$conns" "$url" "$model" "$stream" chat
  if [[ -n "$perf_pid" ]]; then wait "$perf_pid" || log "perf record failed"; fi
  CPU[$phase/$target]="${M[px_cpu]}"
  P50[$phase/$target]="${W[p50_us]}"
  local added="–" cpu_ratio="–" p50_ratio="–"
  if [[ "$target" != direct ]]; then
    added=$((W[p50_us] - P50[$phase/direct]))
    if [[ "$target" == gw ]]; then
      cpu_ratio="$(ratio "${M[px_cpu]}" "${CPU[$phase/hop]:-}")"
      p50_ratio="$(ratio "$added" "$((P50[$phase/hop] - P50[$phase/direct]))")"
    fi
    added="$(fmt_latency "$added")"
  fi
  ROWS+=("| $phase | ${!label} | $conns | ${M[rps]} | $(fmt_latency "${W[p50_us]}") | $(fmt_latency "${W[p99_us]}") | ${M[errors]} | ${M[px_cpu]} | $cpu_ratio | $added | $p50_ratio | ${M[up_cpu]} | ${M[rss]} |")
}

# warmup URL MODEL STREAM [API]: unmeasured load first, so that measured
# runs start with connections, pools and page caches already set up.
warmup() {
  ((WARMUP > 0)) || return 0
  log "warming up $1 for ${WARMUP}s"
  wrk_run "$CONNS" "$WARMUP" "$1" "$2" "$3" "${4:-chat}"
}

# phase NAME CONNS PATH MODEL STREAM: the three targets one after the other.
phase() {
  local name="$1" conns="$2" path="$3" model="$4" stream="$5"
  warmup "$UP$path" "$model" "$stream"
  measure "$name" direct "$conns" "$path" "$model" "$stream"
  warmup "$HOP$path" "$model" "$stream"
  measure "$name" hop "$conns" "$path" "$model" "$stream"
  if ((GATEWAY)); then
    warmup "$GW$CHAT" "$model" "$stream"
    measure "$name" gw "$conns" "$CHAT" "$model" "$stream"
  fi
}

# ----------------------------------------------------------- callgrind ----
if [[ "$CALLGRIND" == 1 ]]; then
  ((GATEWAY)) || die "CALLGRIND=1 needs the gateway (GATEWAY=1)"
  log "warming up the gateway under callgrind"
  wrk_run 8 "$((WARMUP > 0 ? WARMUP : 1))" "$GW/v1/chat/completions" m 0
  callgrind_control -i on "$GW_PID" >/dev/null 2>&1
  log "counting: non-stream, 8 connections, ${DURATION}s"
  wrk_run 8 "$DURATION" "$GW/v1/chat/completions" m 0
  callgrind_control -i off "$GW_PID" >/dev/null 2>&1
  callgrind_control -d "$GW_PID" >/dev/null 2>&1
  n="${W[requests]}"
  ir="$(cat "$TMP"/callgrind.out."$GW_PID".* 2>/dev/null | awk '/^totals:/ { s += $2 } END { print s + 0 }')"
  ((n > 0 && ir > 0)) || die "no requests or no callgrind totals"
  printf '%s under callgrind: %s requests, %s user-space instructions per request (every thread)\n' \
    "$BIN" "$n" "$((ir / n))"
  exit 0
fi

CHAT=/v1/chat/completions
phase "non-stream" "$CONNS" "$CHAT" m 0
if ((STREAM)); then
  phase "stream (21 chunks)" "$CONNS" "/sse$CHAT" m-sse 1
fi
phase "1 connection" 1 "$CHAT" m 0

# Translation: the gateway's pass-through (Chat in, OpenAI out) against
# Messages in -> OpenAI out and Chat in -> Anthropic out, same load.
if ((GATEWAY && TRANSLATE)); then
  # translate LABEL MODEL API
  translate() {
    log "measuring: translation, $1, $CONNS connections, ${DURATION}s"
    warmup "$GW${4:-$CHAT}" "$2" 0 "$3"
    run_measured gw "$CONNS" "$GW${4:-$CHAT}" "$2" 0 "$3"
    TROWS+=("| $1 | $CONNS | ${M[rps]} | $(fmt_latency "${W[p50_us]}") | $(fmt_latency "${W[p99_us]}") | ${M[errors]} | ${M[px_cpu]} | $(ratio "${M[px_cpu]}" "${CPU[non-stream/gw]}") |")
  }
  TROWS+=("| Chat in → OpenAI-compatible out (pass-through, from the table above) | $CONNS | – | $(fmt_latency "${P50[non-stream/gw]}") | – | – | ${CPU[non-stream/gw]} | 1.0× |")
  translate "Anthropic Messages in → OpenAI-compatible out" m messages /v1/messages
  translate "Chat in → Anthropic Messages out" m-anth chat
fi

# Slow drip: SLOW_CONNS streams open at once, each 21 events 100 ms apart
# (~2 s a stream): no stall (p99 near 2.1 s, no errors) and the memory the
# proxy holds per open stream (peak RSS during the run minus the RSS
# before it, over SLOW_CONNS).
if ((STREAM && SLOW_CONNS > 0)); then
  slow() {
    local target="$1" url="$2" pids before peak=0 k wpid label="LABEL_$1"
    pids="$(proxy_pids "$target")"
    # shellcheck disable=SC2086
    before="$(rss_kb_sum $pids)"
    log "measuring: $SLOW_CONNS slow-drip streams, ${!label}, ${DURATION}s"
    local up0 up1 px0 px1 n
    # shellcheck disable=SC2086
    px0="$(cpu_ticks $pids)"
    BENCH_MODEL=m-slow BENCH_STREAM=1 BENCH_KEY="$BENCH_KEY" \
      timeout --foreground --kill-after=5 $((DURATION + 30)) \
      wrk -t1 -c"$SLOW_CONNS" -d"${DURATION}s" --timeout 10s --latency -s "$HERE/post.lua" \
      "$url" >"$TMP/slow.out" 2>&1 &
    wpid=$!
    while kill -0 "$wpid" 2>/dev/null; do
      # shellcheck disable=SC2086
      k="$(rss_kb_sum $pids)"
      ((k > peak)) && peak="$k"
      sleep 0.25
    done
    wait "$wpid" || die "wrk failed (slow drip against ${!label})"
    # shellcheck disable=SC2086
    px1="$(cpu_ticks $pids)"
    cat "$TMP/slow.out" >>"$TMP/wrk.log"
    W=()
    local line words kv
    line="$(grep '^BENCH ' "$TMP/slow.out" || true)"
    read -ra words <<<"${line#BENCH }"
    for kv in "${words[@]}"; do
      W[${kv%%=*}]="${kv#*=}"
    done
    [[ -n "${W[requests]:-}" ]] || die "no BENCH line in wrk output: $(cat "$TMP/slow.out")"
    n="${W[requests]}"
    local errors=$((W[errors_connect] + W[errors_read] + W[errors_write] + W[errors_status] + W[errors_timeout]))
    SROWS+=("| ${!label} | $SLOW_CONNS | $(awk -v n="$n" -v us="${W[duration_us]}" 'BEGIN { printf "%.0f", n / (us / 1e6) }') | $(fmt_latency "${W[p50_us]}") | $(fmt_latency "${W[p99_us]}") | $errors | $(awk -v t=$((px1 - px0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "–" }') | $(awk -v a="$before" -v b="$peak" 'BEGIN { printf "%.1f → %.1f MB", a / 1024, b / 1024 }') | $(awk -v a="$before" -v b="$peak" -v c="$SLOW_CONNS" 'BEGIN { printf "%.1f", (b - a) / c }') |")
  }
  slow hop "$HOP/slow$CHAT"
  if ((GATEWAY)); then slow gw "$GW$CHAT"; fi
fi

# Long run: LONG_REQUESTS non-stream requests in LONG_STEP-second runs,
# the gateway's RSS after each: a leak shows as a climb, a healthy
# process as a plateau once its caches and pools are warm.
LROWS=()
if ((GATEWAY && LONG_REQUESTS > 0)); then
  total=0
  log "measuring: RSS over $LONG_REQUESTS requests"
  LROWS+=("| $total | $(rss_mb "$GW_PID") |")
  while ((total < LONG_REQUESTS)); do
    wrk_run "$CONNS" "$LONG_STEP" "$GW$CHAT" m 0
    total=$((total + W[requests]))
    LROWS+=("| $total | $(rss_mb "$GW_PID") |")
  done
fi

# -------------------------------------------------------------- report ----
rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo
echo "## Switchboard benchmark ($(date -u +%Y-%m-%dT%H:%MZ), commit $rev)"
echo
echo "$(nproc) cores, wrk -t1 -d${DURATION}s, a ~1 KB chat request (system + user message); Switchboard: $WORKERS worker(s), log level $GW_LOG_LEVEL, a gateway key checked and every request recorded in SQLite; nginx $("$NGINX" -v 2>&1 | sed 's#.*/##'), 1 worker each, as the upstream (fixed replies) and as the hop (proxy_pass, upstream keep-alive, proxy_buffering off)."
echo "Stream rows: one request = one whole stream of 21 chunks (20 events + [DONE]), so req/s is streams/s. CPU µs/req: utime+stime of the proxy's processes (/proc) over the requests served. Added p50: the row's p50 minus the upstream's own in the same phase. Ratios: Switchboard ÷ the nginx hop."
echo
echo "| phase | target | conns | req/s | p50 | p99 | errors | proxy CPU µs/req | CPU ÷ hop | added p50 | added p50 ÷ hop | upstream CPU µs/req | proxy RSS after |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
if ((${#TROWS[@]})); then
  echo
  echo "Translation paths (Switchboard, non-stream, ratio ÷ its own pass-through):"
  echo
  echo "| path | conns | req/s | p50 | p99 | errors | gateway CPU µs/req | ÷ pass-through |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${TROWS[@]}"
fi
if ((${#SROWS[@]})); then
  echo
  echo "Slow-drip streams ($SLOW_CONNS at once, 21 events 100 ms apart, ${DURATION}s):"
  echo
  echo "| target | conns | streams/s | p50 | p99 | errors | CPU µs/stream | RSS before → peak | KB per open stream |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${SROWS[@]}"
fi
if ((${#LROWS[@]})); then
  echo
  echo "Switchboard RSS over a long run ($CONNS connections, non-stream; requests served so far since this phase began):"
  echo
  echo "| requests | RSS |"
  echo "|---|---|"
  printf '%s\n' "${LROWS[@]}"
fi
echo
echo "Switchboard idle RSS (after start and the sanity probes): $GW_IDLE_RSS."
if ((!GATEWAY)); then
  echo
  echo "(GATEWAY=0: the gateway was not measured.)"
fi
if [[ "${KEEP_TMP:-0}" == 1 ]]; then
  echo
  echo "Raw wrk output: $TMP/wrk.log"
fi
