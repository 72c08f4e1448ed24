#!/usr/bin/env bash
# Benchmark harness for asgi-server and asgi-framework against their peers.
# See bench/README.md for what each scenario measures and why.
#
#   bench/run.sh                          # every scenario, 3 rounds of 10 s
#   bench/run.sh hello framework          # only these scenarios
#   bench/run.sh --rounds 5 --duration 15 hello
#   bench/run.sh --no-install --no-build-ours --rounds 1 --duration 3
#
# Every measured run starts a fresh server process pinned to core 0
# (`taskset -c 0`) and a load generator pinned to core 1, except in the
# `workers` scenario, which needs both cores for the server. The servers of a
# scenario run in interleaved rounds (round 1: A B C, round 2: B C A, ...) so
# that a slow spell of this shared machine does not land on one server only;
# the tables show medians over the rounds.
#
# Commands for our own servers are templates: `{port}` is replaced by the port
# the harness picks, and the result is split on whitespace (no shell quoting).
# A server whose program does not exist yet is skipped with a note.

set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"

# ----- settings (all can be overridden from the environment) -------------------

ROUNDS="${ROUNDS:-3}"                    # interleaved rounds per scenario
DURATION="${DURATION:-10}"               # seconds of measured load per run
WARMUP="${WARMUP:-2}"                    # seconds of unmeasured load before each run
CONNS="${CONNS:-64}"                     # wrk/h2load/ws_load connections
PIPELINE_DEPTH="${PIPELINE_DEPTH:-16}"   # requests per write in `pipelined`
H2_STREAMS="${H2_STREAMS:-10}"           # h2load -m: concurrent streams per connection
IDLE_CONNS="${IDLE_CONNS:-5000}"         # keep-alive connections held open in `idle`
WS_SIZE="${WS_SIZE:-32}"                 # bytes per WebSocket message
BLOCK_MS="${BLOCK_MS:-50}"               # /block?ms= in `blocking`
BLOCK_CONNS="${BLOCK_CONNS:-200}"        # concurrent /block requests
PROBE_CONNS="${PROBE_CONNS:-16}"         # connections of the GET / probe next to them
PROBE_RATE="${PROBE_RATE:-2000}"         # req/s of the fixed-rate GET / probe in `blocking` (all connections)
WORKERS_CONNS="${WORKERS_CONNS:-1000}"   # connections in `workers`
SLEEP_MS="${SLEEP_MS:-10}"               # /sleep?ms= in `workers`
SERVER_CPU="${SERVER_CPU:-0}"            # core the server is pinned to
LOAD_CPU="${LOAD_CPU:-1}"                # core the load generator is pinned to
BASE_PORT="${BASE_PORT:-18100}"          # ports BASE_PORT.. BASE_PORT+199 are used in turn
CARGO_JOBS="${CARGO_JOBS:-1}"            # the two cores are shared: build with -j 1

PYTHON="${PYTHON:-python3}"              # runs lib/stats.py (standard library only)
VENV="${VENV:-$BENCH/.venv}"             # Uvicorn, FastAPI and websockets live here
PEERS_TARGET="${PEERS_TARGET:-/work/target-bench}"
OURS_TARGET="${OURS_TARGET:-${CARGO_TARGET_DIR:-$ROOT/target}}"
OURS_NOTE="${OURS_NOTE:-}"               # printed in every table header, e.g. "ours built from abc1234"

# Our servers. hello_raw is the raw asgi-core hello app served by asgi-server;
# demo is the asgi-framework demo app (routes /, /json, /items/{id}, /block,
# /sleep and a WebSocket echo at OURS_WS_PATH). Both take Uvicorn's options.
# (The defaults go through plain variables: a literal "}" inside ${VAR:-...}
# would end the expansion early.)
default_hello="$OURS_TARGET/release/hello_raw --port {port} --no-access-log"
default_demo="$OURS_TARGET/release/demo --host 127.0.0.1 --port {port} --no-access-log"
OURS_HELLO_CMD="${OURS_HELLO_CMD:-$default_hello}"
OURS_DEMO_CMD="${OURS_DEMO_CMD:-$default_demo}"
OURS_H2_CMD="${OURS_H2_CMD:-$OURS_HELLO_CMD}"    # --http auto detects the h2c preface
OURS_WS_CMD="${OURS_WS_CMD:-$OURS_DEMO_CMD}"
OURS_WS_PATH="${OURS_WS_PATH:-/ws}"
OURS_IDLE_FLAGS="${OURS_IDLE_FLAGS:---timeout-keep-alive 60}"   # added in `idle`
# Built one binary at a time, so that one that does not exist yet does not
# keep the other from being built: OURS_BUILD_CMD followed by each of OURS_BINS.
OURS_BINS="${OURS_BINS:-hello_raw demo}"
OURS_BUILD_CMD="${OURS_BUILD_CMD:-cargo build --release -j $CARGO_JOBS -p examples --bin}"
# Extra flags per `workers` variant, added to OURS_DEMO_CMD (label=flags;...).
WORKERS_VARIANTS="${WORKERS_VARIANTS:-workers-1=--workers 1;workers-2=--workers 2;workers-2-current-thread=--workers 2 --runtime current-thread;1-process-2-threads=--workers 1 --runtime multi-thread --threads 2}"

# Peers, built from bench/peers and bench/apps by this script.
PEER_BIN="$PEERS_TARGET/release"
UVICORN_FLAGS="--host 127.0.0.1 --port {port} --no-access-log --loop uvloop --http httptools"
# Uvicorn's default websocket implementation, "auto": with the websockets
# package installed, Uvicorn 0.54 (the version this venv got) picks that
# package's sans-I/O protocol ("websockets-sansio"); UVICORN_WS=websockets
# selects the legacy one.
UVICORN_WS="${UVICORN_WS:-auto}"
declare -A PEER_CMD=(
  [hyper]="$PEER_BIN/hyper_hello --port {port}"
  [hyper-pipelined]="$PEER_BIN/hyper_hello --port {port} --pipeline-flush"
  [hyper-h2]="$PEER_BIN/hyper_h2_hello --port {port}"
  [actix-web]="$PEER_BIN/actix_hello --port {port}"
  [tokio-raw]="$PEER_BIN/tokio_raw --port {port}"
  [axum]="$PEER_BIN/axum_app --port {port}"
  [tungstenite]="$PEER_BIN/tungstenite_echo --port {port}"
  [uvicorn]="$VENV/bin/uvicorn --app-dir $BENCH/apps hello_asgi:app $UVICORN_FLAGS"
  [uvicorn-fastapi]="$VENV/bin/uvicorn --app-dir $BENCH/apps fastapi_app:app $UVICORN_FLAGS"
  [uvicorn-ws]="$VENV/bin/uvicorn --app-dir $BENCH/apps ws_echo_asgi:app $UVICORN_FLAGS --ws $UVICORN_WS"
)
WS_LOAD="$PEER_BIN/ws_load"
IDLE_CLIENT="$PEER_BIN/idle_conns"

ALL_SCENARIOS=(hello pipelined idle framework ws_echo h2 blocking workers)

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  echo "Scenarios: ${ALL_SCENARIOS[*]}"
  echo "Options: --rounds N  --duration S  --warmup S  --no-install  --no-build  --no-build-ours"
}

# ----- command line -------------------------------------------------------------

INSTALL=1 BUILD_PEERS=1 BUILD_OURS=1
SCENARIOS=()
while (($#)); do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --no-build) BUILD_PEERS=0; BUILD_OURS=0; shift ;;
    --no-build-ours) BUILD_OURS=0; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      if [[ " ${ALL_SCENARIOS[*]} " != *" $1 "* ]]; then
        echo "unknown scenario $1 (one of: ${ALL_SCENARIOS[*]})" >&2; exit 2
      fi
      SCENARIOS+=("$1"); shift ;;
  esac
done
((${#SCENARIOS[@]})) || SCENARIOS=("${ALL_SCENARIOS[@]}")

RESULTS="$BENCH/results"
RAW="$RESULTS/raw"      # one TSV row per measured run (git-ignored scratch)
LOGS="$RESULTS/logs"    # server and load-generator output (git-ignored scratch)
mkdir -p "$RAW" "$LOGS"

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
stats() { taskset -c "$LOAD_CPU" "$PYTHON" "$BENCH/lib/stats.py" "$@"; }

# ----- setup: tools, Python peers, builds ----------------------------------------

install_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v h2load >/dev/null || missing+=(nghttp2-client)
  command -v taskset >/dev/null || missing+=(util-linux)
  if ((${#missing[@]})); then
    log "installing ${missing[*]} with apt-get"
    apt-get update && apt-get install -y "${missing[@]}"
  fi
  if [[ ! -x "$VENV/bin/uvicorn" ]]; then
    log "creating the Python venv $VENV (uvicorn[standard], fastapi, websockets)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet 'uvicorn[standard]' fastapi websockets
  fi
}

build() {
  if ((BUILD_PEERS)); then
    log "building the peers (release, -j $CARGO_JOBS) into $PEERS_TARGET"
    CARGO_TARGET_DIR="$PEERS_TARGET" cargo build --release -j "$CARGO_JOBS" \
      --manifest-path "$BENCH/peers/Cargo.toml"
    # A build of its own: actix's features must not reach the other peers.
    CARGO_TARGET_DIR="$PEERS_TARGET" cargo build --release -j "$CARGO_JOBS" \
      --manifest-path "$BENCH/peers/actix/Cargo.toml"
  fi
  if ((BUILD_OURS)); then
    # Our binaries may not exist yet: a failed build is reported, and the
    # scenarios skip what is missing.
    local bin
    for bin in $OURS_BINS; do
      log "building our server: $OURS_BUILD_CMD $bin"
      # shellcheck disable=SC2086
      (cd "$ROOT" && $OURS_BUILD_CMD "$bin") || log "WARNING: building $bin failed; it will be skipped"
    done
  fi
}

# ----- servers ---------------------------------------------------------------------

PORT_SEQ=0
SERVER_PID=""   # process (and process group) of the running server
SERVER_BG=""    # the background job that started it
PORT=""

# The program of a command template exists and is executable?
have_program() {
  local prog="${1%% *}"
  [[ -x "$prog" ]] || command -v "$prog" >/dev/null 2>&1
}

# start_server LABEL TEMPLATE PIN: start a server in its own process group,
# pinned to SERVER_CPU when PIN is 1, and wait until its port accepts.
start_server() {
  local label="$1" template="$2" pin="$3"
  PORT=$((BASE_PORT + PORT_SEQ % 200)); PORT_SEQ=$((PORT_SEQ + 1))
  local cmd="${template//\{port\}/$PORT}"
  local pidfile="$LOGS/$label.pid" logfile="$LOGS/$label.log"
  local prefix=()
  ((pin)) && prefix=(taskset -c "$SERVER_CPU")
  rm -f "$pidfile"
  # setsid: the server leads its own process group, so stopping it also stops
  # any worker processes it started. The inner shell records its PID and then
  # execs the server, so the PID is the server's own.
  # shellcheck disable=SC2086,SC2016
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "${prefix[@]}" $cmd \
    >"$logfile" 2>&1 </dev/null &
  SERVER_BG=$!
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -s "$pidfile" ]] && SERVER_PID="$(cat "$pidfile")"
    if [[ -n "$SERVER_PID" ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
      break
    fi
    if [[ -n "$SERVER_PID" ]] && (: <>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  log "ERROR: $label did not start listening on port $PORT; its output:"
  tail -n 20 "$logfile" >&2 || true
  NOTES+=("$label did not start (\`$cmd\`); its output is in results/logs/$label.log.")
  stop_server
  return 1
}

server_alive() {
  [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null &&
    [[ "$(awk '{print $3}' "/proc/$SERVER_PID/stat" 2>/dev/null)" != Z ]]
}

# stop_server: SIGTERM to the process group, SIGKILL after 10 s.
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
      server_alive || break
      sleep 0.1
    done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n "$SERVER_BG" ]]; then wait "$SERVER_BG" 2>/dev/null || true; fi
  SERVER_PID="" SERVER_BG=""
}

CLIENT_PID=""
cleanup() {
  if [[ -n "$CLIENT_PID" ]]; then kill "$CLIENT_PID" 2>/dev/null || true; fi
  stop_server
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ----- measurement -------------------------------------------------------------------

# Rows of the current scenario's raw TSV. Columns: scenario case server round
# rate cpu_us p99_ms errors rss_before_kib rss_after_kib conns_open.
TSV=""
row() { local IFS=$'\t'; echo "$*" >>"$TSV"; }

# The server order of round R: the list rotated left by R.
rotate() {
  local r="$1"; shift
  local n=$# i
  local items=("$@")
  for ((i = 0; i < n; i++)); do echo "${items[(i + r) % n]}"; done
}

# wrk_run SCENARIO CASE LABEL ROUND PIN_LOAD WRK_ARGS...: a warm-up, then the
# measured run with the server's CPU time read before and after.
wrk_run() {
  local scenario="$1" case="$2" label="$3" round="$4" pin="$5"; shift 5
  local prefix=()
  ((pin)) && prefix=(taskset -c "$LOAD_CPU")
  local out="$LOGS/$scenario-$label-wrk.txt"
  "${prefix[@]}" wrk -d "${WARMUP}s" "$@" >/dev/null 2>&1 || true
  local cpu0 cpu1 requests rps p99 errors cpu_us
  cpu0="$(stats cpu "$SERVER_PID")"
  "${prefix[@]}" wrk -d "${DURATION}s" --latency "$@" >"$out" 2>&1 || true
  cpu1="$(stats cpu "$SERVER_PID")"
  if ! read -r requests rps p99 errors < <(stats wrk "$out" 2>/dev/null) || ! server_alive; then
    log "  $label $case: the run failed (server alive: $(server_alive && echo yes || echo no)); wrk said:"
    tail -n 5 "$out" >&2
    NOTES+=("$label, $case, round $((round + 1)): the run failed; see results/logs/$(basename "$out").")
    return 0
  fi
  cpu_us="$(stats per "$cpu0" "$cpu1" "$requests")"
  row "$scenario" "$case" "$label" "$round" "$rps" "$cpu_us" "$p99" "$errors" - - -
  log "  $label $case: $rps req/s, $cpu_us µs CPU/req, p99 $p99 ms, $errors errors"
}

# The header lines of every table: when, where, how loaded, with what settings.
header_lines() {
  local cpu_model rev
  cpu_model="$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [[ -n "$(git -C "$ROOT" status --porcelain -- asgi-core asgi-server asgi-framework examples 2>/dev/null)" ]]; then
    rev+=" (with uncommitted changes in the crates)"
  fi
  # OURS_NOTE says where our binaries came from when OURS_TARGET points elsewhere.
  [[ -n "${OURS_NOTE:-}" ]] && rev+="; $OURS_NOTE"
  printf -- '%s\n' --header \
    "Run $(date -u '+%Y-%m-%d %H:%M UTC'), commit $rev, $(nproc) cores ($cpu_model), kernel $(uname -r)." \
    --header \
    "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg). $ROUNDS interleaved round(s), medians shown; $1"
}

# report SCENARIO TITLE DETAILS REPORT_ARGS...: print the table and write it
# to results/SCENARIO.md.
report() {
  local scenario="$1" title="$2" details="$3"; shift 3
  local hdr=()
  mapfile -t hdr < <(header_lines "$details")
  local notes=()
  local n
  for n in "${NOTES[@]}"; do notes+=(--note "$n"); done
  if [[ ! -s "$TSV" ]]; then
    notes+=(--note "Nothing was measured.")
  fi
  touch "$TSV"
  stats report "$TSV" --title "$title" "${hdr[@]}" "${notes[@]}" "$@" | tee "$RESULTS/$scenario.md"
}

NOTES=()
# servers_available LABEL=TEMPLATE...: print the labels whose program exists,
# note the others.
SKIPPED_MSG="does not exist yet; build it (see OURS_BUILD_CMD, OURS_BINS) or point the OURS_* variables elsewhere"
usable() {
  local label="$1" template="$2"
  if have_program "$template"; then return 0; fi
  NOTES+=("$label skipped: ${template%% *} $SKIPPED_MSG.")
  log "skipping $label: ${template%% *} $SKIPPED_MSG"
  return 1
}

begin_scenario() {
  TSV="$RAW/$1.tsv"
  : >"$TSV"
  NOTES=()
  log "=== scenario $1 ==="
}

# ----- scenarios -------------------------------------------------------------------------

# hello and pipelined: GET / with wrk -t1 -cCONNS, server on core 0, wrk on core 1.
scenario_wrk_hello() {
  local scenario="$1"; shift
  local -A cmds=()
  local order=() label
  usable asgi-server "$OURS_HELLO_CMD" && { cmds[asgi-server]="$OURS_HELLO_CMD"; order+=(asgi-server); }
  local cmd
  for label in "$@"; do
    cmd="${PEER_CMD[$label]}"
    # A peer may have its own pipelining option (hyper's pipeline_flush).
    [[ "$scenario" == pipelined ]] && cmd="${PEER_CMD[$label-pipelined]:-$cmd}"
    usable "$label" "$cmd" && { cmds[$label]="$cmd"; order+=("$label"); }
  done
  local extra=() case="GET /"
  if [[ "$scenario" == pipelined ]]; then
    extra=(-s "$BENCH/lib/pipeline.lua")
    case="GET /, $PIPELINE_DEPTH pipelined per write"
  fi
  local r
  for ((r = 0; r < ROUNDS; r++)); do
    mapfile -t ord < <(rotate "$r" "${order[@]}")
    for label in "${ord[@]}"; do
      start_server "$label" "${cmds[$label]}" 1 || continue
      local args=(-t1 "-c$CONNS" "${extra[@]}" "http://127.0.0.1:$PORT/")
      [[ "$scenario" == pipelined ]] && args+=(-- "$PIPELINE_DEPTH")
      wrk_run "$scenario" "$case" "$label" "$r" 1 "${args[@]}"
      stop_server
    done
  done
}

scenario_hello() {
  begin_scenario hello
  scenario_wrk_hello hello hyper actix-web tokio-raw uvicorn
  report hello "hello: GET / (HTTP/1.1)" \
    "server on core $SERVER_CPU, \`wrk -t1 -c$CONNS -d${DURATION}s --latency\` on core $LOAD_CPU." \
    --ref hyper --ref actix-web
}

scenario_pipelined() {
  begin_scenario pipelined
  scenario_wrk_hello pipelined hyper actix-web
  report pipelined "pipelined: GET / x$PIPELINE_DEPTH per write (TechEmpower plaintext style)" \
    "server on core $SERVER_CPU, \`wrk -t1 -c$CONNS -d${DURATION}s --latency -s lib/pipeline.lua -- $PIPELINE_DEPTH\` on core $LOAD_CPU; p99 is per pipelined batch as wrk times it; hyper runs with its \`pipeline_flush(true)\` option." \
    --ref hyper
}

# idle: resident memory per idle keep-alive connection.
scenario_idle() {
  begin_scenario idle
  local -A cmds=()
  local order=() label
  usable asgi-server "$OURS_HELLO_CMD" &&
    { cmds[asgi-server]="$OURS_HELLO_CMD $OURS_IDLE_FLAGS"; order+=(asgi-server); }
  for label in hyper actix-web tokio-raw uvicorn; do
    usable "$label" "${PEER_CMD[$label]}" && { cmds[$label]="${PEER_CMD[$label]}"; order+=("$label"); }
  done
  # Uvicorn closes idle keep-alive connections after 5 s by default.
  cmds[uvicorn]+=" --timeout-keep-alive 60"
  local r out
  for ((r = 0; r < ROUNDS; r++)); do
    mapfile -t ord < <(rotate "$r" "${order[@]}")
    for label in "${ord[@]}"; do
      start_server "$label" "${cmds[$label]}" 1 || continue
      # One request first, so lazily allocated per-process state is in the baseline.
      curl -s -o /dev/null "http://127.0.0.1:$PORT/" || true
      sleep 0.5
      local before after ready open
      before="$(stats rss "$SERVER_PID")"
      out="$LOGS/idle-$label-client.txt"
      taskset -c "$LOAD_CPU" "$IDLE_CLIENT" --addr "127.0.0.1:$PORT" --connections "$IDLE_CONNS" \
        --settle 0.5 --hold 120 >"$out" 2>&1 &
      CLIENT_PID=$!
      local i
      for ((i = 0; i < 600; i++)); do
        grep -qs "^OPEN" "$out" && break
        kill -0 "$CLIENT_PID" 2>/dev/null || break
        sleep 0.1
      done
      after="$(stats rss "$SERVER_PID")"
      kill "$CLIENT_PID" 2>/dev/null || true
      local status=0
      wait "$CLIENT_PID" 2>/dev/null || status=$?
      CLIENT_PID=""
      ready="$(awk '/^READY/{print $3}' "$out")"
      open="$(awk '/^OPEN/{print $2}' "$out")"
      if [[ -z "$open" ]]; then
        log "  $label: the idle client ended with status $status before reporting; its output:"
        tail -n 5 "$out" >&2
        NOTES+=("$label, round $((r + 1)): the idle client ended with status $status before reporting (server alive: $(server_alive && echo yes || echo no)).")
        stop_server; continue
      fi
      row idle "$IDLE_CONNS idle keep-alive connections" "$label" "$r" - - - "${ready:-0}" "$before" "$after" "$open"
      log "  $label: RSS $before -> $after KiB with $open connections open (${ready:-?} failed to open)"
      stop_server
    done
  done
  report idle "idle: resident memory per idle keep-alive connection" \
    "RSS (VmRSS of the server and its children) read after one warm-up request, then after $IDLE_CONNS connections each served one GET / and left idle; per connection = difference / connections still open. asgi-server runs with \`$OURS_IDLE_FLAGS\`, Uvicorn with \`--timeout-keep-alive 60\`; the Rust peers keep their defaults." \
    --kind idle --ref hyper
}

# framework: GET /json and GET /items/42?q=hello.
scenario_framework() {
  begin_scenario framework
  local -A cmds=()
  local order=() label
  usable asgi-framework "$OURS_DEMO_CMD" && { cmds[asgi-framework]="$OURS_DEMO_CMD"; order+=(asgi-framework); }
  usable axum "${PEER_CMD[axum]}" && { cmds[axum]="${PEER_CMD[axum]}"; order+=(axum); }
  usable fastapi "${PEER_CMD[uvicorn-fastapi]}" && { cmds[fastapi]="${PEER_CMD[uvicorn-fastapi]}"; order+=(fastapi); }
  local r path
  for ((r = 0; r < ROUNDS; r++)); do
    mapfile -t ord < <(rotate "$r" "${order[@]}")
    for label in "${ord[@]}"; do
      start_server "$label" "${cmds[$label]}" 1 || continue
      for path in "/json" "/items/42?q=hello"; do
        wrk_run framework "GET $path" "$label" "$r" 1 -t1 "-c$CONNS" "http://127.0.0.1:$PORT$path"
      done
      stop_server
    done
  done
  report framework "framework: GET /json and GET /items/{id}?q=" \
    "server on core $SERVER_CPU, \`wrk -t1 -c$CONNS -d${DURATION}s --latency\` on core $LOAD_CPU; fastapi is FastAPI on Uvicorn (uvloop, httptools)." \
    --ref axum --ref fastapi
}

# ws_echo: WebSocket echo messages per second with bench/peers' ws_load.
scenario_ws_echo() {
  begin_scenario ws_echo
  local -A cmds=() paths=()
  local order=() label
  usable asgi-server "$OURS_WS_CMD" && { cmds[asgi-server]="$OURS_WS_CMD"; paths[asgi-server]="$OURS_WS_PATH"; order+=(asgi-server); }
  usable tungstenite "${PEER_CMD[tungstenite]}" && { cmds[tungstenite]="${PEER_CMD[tungstenite]}"; paths[tungstenite]=/; order+=(tungstenite); }
  usable uvicorn "${PEER_CMD[uvicorn-ws]}" && { cmds[uvicorn]="${PEER_CMD[uvicorn-ws]}"; paths[uvicorn]=/; order+=(uvicorn); }
  local r out
  for ((r = 0; r < ROUNDS; r++)); do
    mapfile -t ord < <(rotate "$r" "${order[@]}")
    for label in "${ord[@]}"; do
      start_server "$label" "${cmds[$label]}" 1 || continue
      local url="ws://127.0.0.1:$PORT${paths[$label]}"
      out="$LOGS/ws_echo-$label-load.txt"
      taskset -c "$LOAD_CPU" "$WS_LOAD" --url "$url" --connections "$CONNS" --duration "$WARMUP" \
        --size "$WS_SIZE" >"$out" 2>&1 || true
      local cpu0 cpu1 messages rate p99 errors cpu_us
      cpu0="$(stats cpu "$SERVER_PID")"
      taskset -c "$LOAD_CPU" "$WS_LOAD" --url "$url" --connections "$CONNS" --duration "$DURATION" \
        --size "$WS_SIZE" >"$out" 2>&1 || true
      cpu1="$(stats cpu "$SERVER_PID")"
      if ! read -r messages rate p99 errors < <(stats wsload "$out" 2>/dev/null); then
        log "  $label: ws_load failed; its output:"; tail -n 5 "$out" >&2
        stop_server; continue
      fi
      if ((errors > 0 && messages == 0)); then
        log "  $label: no message echoed at $url; its output:"; tail -n 5 "$out" >&2
        NOTES+=("$label: no message echoed at $url (see results/logs/ws_echo-$label-load.txt).")
        stop_server; continue
      fi
      cpu_us="$(stats per "$cpu0" "$cpu1" "$messages")"
      row ws_echo "echo over $CONNS connections" "$label" "$r" "$rate" "$cpu_us" "$p99" "$errors" - - -
      log "  $label: $rate msg/s, $cpu_us µs CPU/msg, p99 $p99 ms, $errors errors"
      stop_server
    done
  done
  report ws_echo "ws_echo: WebSocket echo" \
    "server on core $SERVER_CPU, \`ws_load --connections $CONNS --size $WS_SIZE --duration $DURATION\` on core $LOAD_CPU (each connection sends one message, alternating text and binary, and awaits its echo); uvicorn runs with \`--ws $UVICORN_WS\` (auto: the websockets package, sans-I/O)." \
    --unit msg --ref tungstenite --ref uvicorn
}

# h2: HTTP/2 with prior knowledge (h2c), h2load -cCONNS -mH2_STREAMS.
scenario_h2() {
  begin_scenario h2
  local -A cmds=()
  local order=() label
  usable asgi-server "$OURS_H2_CMD" && { cmds[asgi-server]="$OURS_H2_CMD"; order+=(asgi-server); }
  usable hyper-h2 "${PEER_CMD[hyper-h2]}" && { cmds[hyper-h2]="${PEER_CMD[hyper-h2]}"; order+=(hyper-h2); }
  local r out hlog
  local -A no_h2=()
  for ((r = 0; r < ROUNDS; r++)); do
    mapfile -t ord < <(rotate "$r" "${order[@]}")
    for label in "${ord[@]}"; do
      [[ -n "${no_h2[$label]:-}" ]] && continue
      start_server "$label" "${cmds[$label]}" 1 || continue
      local url="http://127.0.0.1:$PORT/"
      out="$LOGS/h2-$label-h2load.txt" hlog="$LOGS/h2-$label-requests.tsv"
      # Does it speak h2c with prior knowledge at all?
      if ! h2load -n 20 -c 1 "$url" 2>&1 | grep -q ' 20 succeeded'; then
        log "  $label does not answer HTTP/2 with prior knowledge; skipped"
        NOTES+=("$label skipped: no HTTP/2 (h2c prior knowledge) answer on $url.")
        no_h2[$label]=1
        stop_server; continue
      fi
      taskset -c "$LOAD_CPU" h2load -D "$WARMUP" -c "$CONNS" -m "$H2_STREAMS" -t 1 "$url" >/dev/null
      local cpu0 cpu1 requests rps p99 errors cpu_us
      cpu0="$(stats cpu "$SERVER_PID")"
      taskset -c "$LOAD_CPU" h2load -D "$DURATION" -c "$CONNS" -m "$H2_STREAMS" -t 1 \
        --log-file="$hlog" "$url" >"$out"
      cpu1="$(stats cpu "$SERVER_PID")"
      read -r requests rps p99 errors < <(stats h2load "$out" "$hlog")
      rm -f "$hlog"
      cpu_us="$(stats per "$cpu0" "$cpu1" "$requests")"
      row h2 "GET / over h2c" "$label" "$r" "$rps" "$cpu_us" "$p99" "$errors" - - -
      log "  $label: $rps req/s, $cpu_us µs CPU/req, p99 $p99 ms, $errors errors"
      stop_server
    done
  done
  report h2 "h2: GET / over HTTP/2 (h2c, prior knowledge)" \
    "server on core $SERVER_CPU, \`h2load -D $DURATION -c $CONNS -m $H2_STREAMS -t 1\` on core $LOAD_CPU; p99 from h2load's per-request log." \
    --ref hyper-h2
}

# blocking: GET / latency while the blocking pool is saturated by /block.
scenario_blocking() {
  begin_scenario blocking
  if usable asgi-framework "$OURS_DEMO_CMD"; then
    local r block_out probe_case="GET / ($PROBE_CONNS conns) while /block?ms=$BLOCK_MS x$BLOCK_CONNS runs"
    for ((r = 0; r < ROUNDS; r++)); do
      start_server asgi-framework "$OURS_DEMO_CMD" 1 || break
      # The baseline: GET / alone, same probe settings.
      wrk_run blocking "GET / ($PROBE_CONNS conns) alone" asgi-framework "$r" 1 \
        -t1 "-c$PROBE_CONNS" "http://127.0.0.1:$PORT/"
      # Then the same probe while BLOCK_CONNS requests keep the pool busy; the
      # /block load starts one second earlier and ends one second later.
      block_out="$LOGS/blocking-block-wrk.txt"
      taskset -c "$LOAD_CPU" wrk -t1 "-c$BLOCK_CONNS" -d "$((DURATION + WARMUP + 2))s" --latency \
        "http://127.0.0.1:$PORT/block?ms=$BLOCK_MS" >"$block_out" &
      local block_pid=$!
      sleep 1
      wrk_run blocking "$probe_case" asgi-framework "$r" 1 -t1 "-c$PROBE_CONNS" "http://127.0.0.1:$PORT/"
      wait "$block_pid" || true
      local requests rps p99 errors
      # Guarded: under `set -e`, a /block run wrk could not report on (say,
      # every request timed out) would otherwise end the whole harness here.
      if ! read -r requests rps p99 errors < <(stats wrk "$block_out" 2>/dev/null); then
        log "  /block: wrk gave no report; its output:"; tail -n 5 "$block_out" >&2
        NOTES+=("round $((r + 1)): the /block load gave no wrk report (see results/logs/blocking-block-wrk.txt).")
        stop_server; continue
      fi
      row blocking "/block?ms=$BLOCK_MS x$BLOCK_CONNS (next to the probe)" asgi-framework "$r" "$rps" - "$p99" "$errors" - - -
      log "  /block: $rps req/s, p99 $p99 ms, $errors errors"
      # The same two cases at a fixed request rate: wrk's closed loop keeps
      # the core saturated, so its p99 is mostly its own queue; at a fixed
      # rate the p99 shows how long a request waits for the event loop.
      rate_probe "GET / at $PROBE_RATE req/s alone" "$r"
      taskset -c "$LOAD_CPU" wrk -t1 "-c$BLOCK_CONNS" -d "$((DURATION + 3))s" \
        "http://127.0.0.1:$PORT/block?ms=$BLOCK_MS" >/dev/null 2>&1 &
      block_pid=$!
      sleep 1
      rate_probe "GET / at $PROBE_RATE req/s while /block?ms=$BLOCK_MS x$BLOCK_CONNS runs" "$r"
      wait "$block_pid" || true
      stop_server
    done
  fi
  report blocking "blocking: GET / while the blocking pool is saturated" \
    "demo app on core $SERVER_CPU, both wrk on core $LOAD_CPU. CPU/req of the probe-with-/block row counts the server's CPU for both loads over the probe's requests, so it is not comparable to the baseline's." \
    --note "Goal (framework issue): GET / p99 under 5 ms while the pool is saturated. The wrk rows drive the core flat out, so their p99 is mostly the probe's own queue; the fixed-rate rows ($PROBE_RATE req/s by h2load --rps) show the wait for the event loop itself. The demo's pool has 40 threads, so /block?ms=$BLOCK_MS can complete at most $((40 * 1000 / BLOCK_MS)) req/s; $BLOCK_CONNS concurrent requests keep all 40 busy and about $((BLOCK_CONNS - 40)) queued, and a /block rate near that ceiling shows the pool was saturated throughout."
}

# rate_probe CASE ROUND: GET / from PROBE_CONNS connections at PROBE_RATE
# req/s in total (h2load --rps), p99 from h2load's per-request log.
rate_probe() {
  local case="$1" round="$2" out="$LOGS/blocking-rate-h2load.txt" hlog="$LOGS/blocking-rate-requests.tsv"
  local per_conn=$(( (PROBE_RATE + PROBE_CONNS - 1) / PROBE_CONNS ))
  local requests rps p99 errors
  taskset -c "$LOAD_CPU" h2load --h1 -D "$DURATION" -c "$PROBE_CONNS" --rps "$per_conn" -t 1 \
    --log-file="$hlog" "http://127.0.0.1:$PORT/" >"$out" 2>&1 || true
  if ! read -r requests rps p99 errors < <(stats h2load "$out" "$hlog" 2>/dev/null); then
    log "  $case: h2load gave no report"; tail -n 5 "$out" >&2
    NOTES+=("round $((round + 1)), $case: h2load gave no report (see results/logs/blocking-rate-h2load.txt).")
    return 0
  fi
  rm -f "$hlog"
  row blocking "$case" asgi-framework "$round" "$rps" - "$p99" "$errors" - - -
  log "  $case: $rps req/s, p99 $p99 ms, $errors errors"
}

# workers: process and thread layouts of the demo on both cores, no pinning.
scenario_workers() {
  begin_scenario workers
  local -A cmds=()
  local order=() variants=() variant label flags
  if usable asgi-framework "$OURS_DEMO_CMD"; then
    IFS=';' read -ra variants <<<"$WORKERS_VARIANTS"
    for variant in "${variants[@]}"; do
      label="${variant%%=*}" flags="${variant#*=}"
      cmds[$label]="$OURS_DEMO_CMD $flags"
      order+=("$label")
    done
  fi
  local r path first="${order[0]:-}"
  for ((r = 0; r < ROUNDS && ${#order[@]} > 0; r++)); do
    mapfile -t ord < <(rotate "$r" "${order[@]}")
    for label in "${ord[@]}"; do
      start_server "$label" "${cmds[$label]}" 0 || continue
      sleep 1   # let every worker process come up
      for path in "/" "/json" "/sleep?ms=$SLEEP_MS"; do
        wrk_run workers "GET $path" "$label" "$r" 0 -t2 "-c$WORKERS_CONNS" "http://127.0.0.1:$PORT$path"
      done
      stop_server
    done
  done
  local variant_notes=()
  for variant in "${variants[@]}"; do variant_notes+=(--note "${variant%%=*}: \`${variant#*=}\`"); done
  report workers "workers: processes versus threads on the 2 cores" \
    "NO pinning: the server may use both cores and \`wrk -t2 -c$WORKERS_CONNS -d${DURATION}s --latency\` shares them, so wrk takes CPU from the server; CPU/req sums the server's processes." \
    "${variant_notes[@]}" ${first:+--ref "$first"}
}

# ----- main ------------------------------------------------------------------------------

# 5,000 idle connections (and wrk's 1,000) need more descriptors than the default.
hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited ]] || ((hard > 65536)); then hard=65536; fi
ulimit -n "$hard"

((INSTALL)) && install_tools
build
log "scenarios: ${SCENARIOS[*]}; $ROUNDS round(s) of ${DURATION}s (+${WARMUP}s warm-up)"
for s in "${SCENARIOS[@]}"; do
  "scenario_$s"
  echo
done
