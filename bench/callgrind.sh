#!/usr/bin/env bash
# User-space instructions per request of one server, by callgrind: a figure
# that does not drift with machine load, unlike req/s or CPU time.
#
#   bench/callgrind.sh [options] -- SERVER_CMD...
#
# SERVER_CMD is a template like run.sh's: `{port}` is replaced by the port.
# The server is started twice under `valgrind --tool=callgrind`, serves N1
# requests in one run and N2 in the other (h2load, fixed count, keep-alive),
# is stopped with SIGTERM (a background job of a script ignores SIGINT), and the script prints
#
#   (Ir(N2) - Ir(N1)) / (N2 - N1)
#
# which cancels start-up and shutdown. Options:
#
#   --path P      request path (default /)
#   --h2          HTTP/2 prior knowledge (default: HTTP/1.1, `h2load --h1`)
#   --conns C     client connections (default 4)
#   --streams M   requests in flight per connection (h2load -m; default 1)
#   --n1 N --n2 N request counts (default 2000 and 6000)
#   --keep DIR    keep the callgrind.out files (and annotate the N2 run)
#
# Example, ours against hyper on the same request:
#
#   bench/callgrind.sh -- target/release/hello_raw --port {port} --no-access-log --runtime current-thread
#   bench/callgrind.sh -- /work/target-bench/release/hyper_hello --port {port}

set -euo pipefail

path=/ h2=0 conns=4 streams=1 n1=2000 n2=6000 keep=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --path) path="$2"; shift 2 ;;
        --h2) h2=1; shift ;;
        --conns) conns="$2"; shift 2 ;;
        --streams) streams="$2"; shift 2 ;;
        --n1) n1="$2"; shift 2 ;;
        --n2) n2="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        --) shift; break ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $# -gt 0 ]] || { echo "usage: $0 [options] -- SERVER_CMD..." >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
command -v h2load >/dev/null || { echo "h2load is not installed (apt-get install nghttp2-client)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
port=$(( 19000 + RANDOM % 900 ))

# Total Ir of one server run serving $1 requests.
measure() {
    local count="$1" out="$work/callgrind.out.$1" port_now=$(( port++ ))
    local cmd=("${@:2}")
    cmd=("${cmd[@]//\{port\}/$port_now}")
    valgrind --tool=callgrind --callgrind-out-file="$out" "${cmd[@]}" \
        >"$work/server.$count.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port_now") 2>/dev/null; then break; fi
        sleep 0.1
    done
    local proto=(--h1)
    [[ "$h2" == 1 ]] && proto=()
    h2load "${proto[@]}" -n "$count" -c "$conns" -m "$streams" \
        "http://127.0.0.1:$port_now$path" >"$work/client.$count.log" 2>&1 \
        || { cat "$work/client.$count.log" >&2; kill -9 "$pid"; exit 1; }
    grep -q "$count succeeded" "$work/client.$count.log" \
        || { echo "not every request succeeded:" >&2; grep -E "requests:|status codes" "$work/client.$count.log" >&2; }
    kill -TERM "$pid"
    wait "$pid" || true
    # The "summary:" line holds the total of the run's events (Ir first).
    grep -m1 '^summary:' "$out" | awk '{print $2}'
}

ir1=$(measure "$n1" "$@")
ir2=$(measure "$n2" "$@")
if [[ -n "$keep" ]]; then
    mkdir -p "$keep"
    cp "$work"/callgrind.out.* "$keep"/
    callgrind_annotate --inclusive=no "$keep/callgrind.out.$n2" 2>/dev/null | head -60 >"$keep/annotate.txt" || true
fi
echo "Ir($n1)=$ir1 Ir($n2)=$ir2"
awk -v a="$ir1" -v b="$ir2" -v x="$n1" -v y="$n2" \
    'BEGIN { printf "instructions per request: %.0f\n", (b - a) / (y - x) }'
