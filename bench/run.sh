#!/usr/bin/env bash
# bench/run.sh: measures Switchboard against a fast local upstream, and that
# upstream called directly, in one run, and prints a Markdown table.
#
#   ./.ci/bootstrap bench            (installs, builds, then runs this)
#   bench/run.sh                     (needs build/switchboard already built)
#
# The upstream is nginx answering POST /v1/chat/completions with a fixed
# chat.completion (and POST /sse/v1/chat/completions with a fixed 20-chunk
# SSE stream, each event its own HTTP chunk as real upstreams send them, via
# Debian's nginx echo module), so it costs next to nothing and the difference between the
# "upstream directly" and "gateway" rows is the gateway's own overhead.
# The method: wrk -t1, a ~60 B POST
# body, CPU µs per request from /proc/PID/stat (the stable metric on a small
# box, where req/s mostly measures CPU contention between wrk, the upstream
# and the gateway).
#
# Environment (all optional):
#   DURATION=8      seconds per measured run ("8s" works too)
#   CONNS=50        connections of the loaded runs (a 1-connection run follows)
#   WARMUP=2        seconds of unmeasured load before each target's first run
#   WORKERS=1       gateway worker threads
#   LOG_LEVEL=info  gateway log level (its logs go to a file in the temp dir)
#   STREAM=1        0 skips the streaming rows
#   GATEWAY=1       0 measures the upstream only (e.g. while the gateway is broken)
#   UP_PORT=18091 GW_PORT=18092   loopback ports used
#   SWITCHBOARD_BIN=build/switchboard
#   KEEP_TMP=1      keep the temp dir (configs, logs, wrk output) for inspection
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${SWITCHBOARD_BIN:-$ROOT/build/switchboard}"
DURATION="${DURATION:-8}"
DURATION="${DURATION%s}"
CONNS="${CONNS:-50}"
WARMUP="${WARMUP:-2}"
WORKERS="${WORKERS:-1}"
GW_LOG_LEVEL="${LOG_LEVEL:-info}"
STREAM="${STREAM:-1}"
GATEWAY="${GATEWAY:-1}"
UP_PORT="${UP_PORT:-18091}"
GW_PORT="${GW_PORT:-18092}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

for v in DURATION CONNS WARMUP WORKERS UP_PORT GW_PORT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
((DURATION > 0 && DURATION <= 600)) || die "DURATION must be 1..600 seconds"

# ------------------------------------------------------------ packages ----
# wrk and nginx are bench-only tools, so .ci/bootstrap deps leaves them out;
# the echo module lets nginx flush each SSE event as its own chunk; curl is
# used for the readiness and sanity probes.
need=()
for p in wrk nginx libnginx-mod-http-echo curl; do
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

cat >"$TMP/nginx.conf" <<EOF
# Generated by bench/run.sh: a fixed-reply OpenAI-compatible upstream.
load_module $ECHO_MODULE;
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  # nginx's compiled-in temp paths are under /var/lib/nginx; keep ours here.
  client_body_temp_path $TMP/nginx-body;
  proxy_temp_path $TMP/nginx-proxy;
  fastcgi_temp_path $TMP/nginx-fastcgi;
  uwsgi_temp_path $TMP/nginx-uwsgi;
  scgi_temp_path $TMP/nginx-scgi;
  # wrk and the gateway keep their connections for the whole run.
  keepalive_requests 10000000;
  keepalive_timeout 120s;
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
    location = /v1/models {
      default_type application/json;
      return 200 '{"object":"list","data":[{"id":"m","object":"model","created":0,"owned_by":"bench"}]}';
    }
    location / { return 404; }
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

post() { # post URL BODY: prints the response body, fails on a non-2xx status
  curl -fsS --max-time 5 -H 'Content-Type: application/json' --data-binary "$2" "$1"
}

port_free "$UP_PORT" || die "port $UP_PORT is in use (set UP_PORT)"
log "starting nginx on 127.0.0.1:$UP_PORT"
"$NGINX" -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf" &
NGINX_PID=$!
UP="http://127.0.0.1:$UP_PORT"
if ! wait_for nginx "$NGINX_PID" post "$UP/v1/chat/completions" '{}'; then
  cat "$TMP/nginx-error.log" >&2 || true
  die "nginx did not start"
fi
nginx_pids() { echo "$NGINX_PID $(children_of "$NGINX_PID")"; }

# ------------------------------------------------------------- gateway ----
if ((GATEWAY)); then
  port_free "$GW_PORT" || die "port $GW_PORT is in use (set GW_PORT)"
  # Two provider instances on the same nginx: `up` serves model "m" (plain
  # JSON), `sse` serves "m-sse" from the location that streams. Bare model
  # names resolve because each is listed by exactly one provider, so the same
  # request bodies work against the gateway and against nginx directly.
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
     "api_key_env": "SWITCHBOARD_CRED_BENCH_UPSTREAM", "models": ["m-sse"]}
  ]
}
EOF
  log "starting $BIN on 127.0.0.1:$GW_PORT ($WORKERS worker(s))"
  # Settings come from the config file only: clear the environment variables
  # that would override it (flag > environment > config file).
  env -u HOST -u PORT -u SWITCHBOARD_DB -u SWITCHBOARD_WORKERS -u LOG_LEVEL \
    SWITCHBOARD_CRED_BENCH_UPSTREAM=sk-bench \
    "$BIN" serve --config "$TMP/gateway.json" >"$TMP/gateway.log" 2>&1 &
  GW_PID=$!
  GW="http://127.0.0.1:$GW_PORT"
  if ! wait_for gateway "$GW_PID" curl -fsS --max-time 2 "$GW/healthz"; then
    tail -n 30 "$TMP/gateway.log" >&2 || true
    die "the gateway did not start (log above)"
  fi
  # Benchmarking error responses would be meaningless: check one of each.
  body="$(post "$GW/v1/chat/completions" '{"model":"m","messages":[{"role":"user","content":"hi"}]}')" ||
    { tail -n 30 "$TMP/gateway.log" >&2; die "gateway: non-stream request failed"; }
  [[ "$body" == *'"chat.completion"'* ]] || die "gateway: unexpected reply: $body"
  if ((STREAM)); then
    body="$(post "$GW/v1/chat/completions" '{"model":"m-sse","stream":true,"messages":[{"role":"user","content":"hi"}]}')" ||
      { tail -n 30 "$TMP/gateway.log" >&2; die "gateway: stream request failed"; }
    [[ "$body" == *'data: [DONE]'* ]] || die "gateway: stream did not end with [DONE]: $body"
  fi
fi

# ---------------------------------------------------------- measuring ----
ROWS=()

fmt_latency() { awk -v us="$1" 'BEGIN { if (us < 1000) printf "%d µs", us; else printf "%.2f ms", us / 1000 }'; }

# wrk_run CONNS SECONDS URL MODEL STREAM: runs wrk, appends its output to
# $TMP/wrk.log and leaves the parsed BENCH line in the array W.
declare -A W
wrk_run() {
  local conns="$1" secs="$2" url="$3" model="$4" stream="$5" out kv line words
  # timeout: wrk's own -d bounds the run; this bounds a wedged wrk too.
  out="$(BENCH_MODEL="$model" BENCH_STREAM="$stream" timeout --foreground --kill-after=5 $((secs + 30)) \
    wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s --latency -s "$HERE/post.lua" "$url")" ||
    die "wrk failed against $url"
  printf '### wrk -c%s -d%ss %s (model %s)\n%s\n\n' "$conns" "$secs" "$url" "$model" "$out" >>"$TMP/wrk.log"
  W=()
  line="$(grep '^BENCH ' <<<"$out" || true)"
  read -ra words <<<"${line#BENCH }"
  for kv in "${words[@]}"; do
    W[${kv%%=*}]="${kv#*=}"
  done
  [[ -n "${W[requests]:-}" ]] || die "no BENCH line in wrk output: $out"
}

# measure LABEL CONNS URL MODEL STREAM: one table row. Gateway columns are
# filled when the gateway is the target.
measure() {
  local label="$1" conns="$2" url="$3" model="$4" stream="$5"
  local gw=0 up0 up1 gw0=0 gw1=0 rps errors gw_cpu="–" up_cpu gw_rss="–"
  [[ "$url" == "${GW:-none}"* ]] && gw=1
  log "measuring: $label, $conns connection(s), ${DURATION}s"
  # shellcheck disable=SC2046 # word-splitting the pid list is intended
  up0="$(cpu_ticks $(nginx_pids))"
  ((gw)) && gw0="$(cpu_ticks "$GW_PID")"
  wrk_run "$conns" "$DURATION" "$url" "$model" "$stream"
  # shellcheck disable=SC2046
  up1="$(cpu_ticks $(nginx_pids))"
  ((gw)) && gw1="$(cpu_ticks "$GW_PID")"

  local n="${W[requests]}"
  errors=$((W[errors_connect] + W[errors_read] + W[errors_write] + W[errors_status] + W[errors_timeout]))
  rps="$(awk -v n="$n" -v us="${W[duration_us]}" 'BEGIN { printf "%.0f", n / (us / 1e6) }')"
  per_req() { awk -v t="$1" -v hz="$CLK_TCK" -v n="$n" 'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "–" }'; }
  up_cpu="$(per_req $((up1 - up0)))"
  if ((gw)); then
    gw_cpu="$(per_req $((gw1 - gw0)))"
    gw_rss="$(rss_mb "$GW_PID")"
  fi
  ROWS+=("| $label | $conns | $rps | $(fmt_latency "${W[p50_us]}") | $(fmt_latency "${W[p99_us]}") | $errors | $gw_cpu | $up_cpu | $gw_rss |")
  # Kept for the summary line under the table.
  LAST_P50="${W[p50_us]}"
}

# warmup URL MODEL STREAM: unmeasured load first, so that measured runs start
# with connections, pools and page caches already set up.
warmup() {
  ((WARMUP > 0)) || return 0
  log "warming up $1 for ${WARMUP}s"
  wrk_run "$CONNS" "$WARMUP" "$1" "$2" "$3"
}

CHAT=/v1/chat/completions
warmup "$UP$CHAT" m 0
measure "upstream directly" "$CONNS" "$UP$CHAT" m 0
measure "upstream directly" 1 "$UP$CHAT" m 0
DIRECT_P50_C1="$LAST_P50"
if ((GATEWAY)); then
  warmup "$GW$CHAT" m 0
  measure "gateway" "$CONNS" "$GW$CHAT" m 0
  measure "gateway" 1 "$GW$CHAT" m 0
  GW_P50_C1="$LAST_P50"
fi
if ((STREAM)); then
  warmup "$UP/sse$CHAT" m-sse 1
  measure "stream: upstream directly" "$CONNS" "$UP/sse$CHAT" m-sse 1
  if ((GATEWAY)); then
    warmup "$GW$CHAT" m-sse 1
    measure "stream: gateway" "$CONNS" "$GW$CHAT" m-sse 1
  fi
fi

# -------------------------------------------------------------- report ----
rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo
echo "## Switchboard benchmark ($(date -u +%Y-%m-%dT%H:%MZ), commit $rev)"
echo
echo "$(nproc) cores, wrk -t1 -d${DURATION}s, gateway workers: $WORKERS, log level: $GW_LOG_LEVEL; upstream: nginx $("$NGINX" -v 2>&1 | sed 's#.*/##'), 1 worker, fixed replies."
echo "Stream rows: one request = one whole stream of 20 chunk events + [DONE], so req/s is streams/s."
echo
echo "| target | conns | req/s | p50 | p99 | errors | gateway CPU µs/req | upstream CPU µs/req | gateway RSS after |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
if ((GATEWAY)); then
  echo
  echo "At 1 connection the gateway adds $((GW_P50_C1 - DIRECT_P50_C1)) µs to the median latency."
else
  echo
  echo "(GATEWAY=0: the gateway was not measured.)"
fi
if [[ "${KEEP_TMP:-0}" == 1 ]]; then
  echo
  echo "Raw wrk output: $TMP/wrk.log"
fi
