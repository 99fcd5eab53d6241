#!/usr/bin/env bash
# The reverse proxy's cost on the wire: the same load generator against an upstream directly,
# then through `memorysync serve --upstream` with the full pipeline in front of it (a key, a
# project, the rate limits, a metered quota route, the audit log in JSON Lines files). The
# upstream is nginx answering a small JSON body from memory: a service this project did not
# write, and fast enough that what is measured is the proxy.
#
#   scripts/proxy_load.sh                  # 10 s per run, 32 connections, 1 wrk thread, 2 rounds
#   DURATION=5 ROUNDS=3 scripts/proxy_load.sh
#
# Settings: DURATION (seconds per run, 10), WARMUP (2), CONNECTIONS (32), THREADS (1), ROUNDS
# (direct-then-proxied pairs, 2), PORT (first of two loopback ports, 18090), KEEP=1 keeps the
# temporary directory. Needs wrk, nginx and curl (apt-get install -y wrk nginx curl).
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18090}
PROJECT=proj_proxy
PATH_=/v2/notes/search

for tool in wrk nginx curl; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "proxy_load.sh: $tool is needed (apt-get install -y wrk nginx curl)" >&2
        exit 1
    }
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
echo "== building (release): the memorysync binary"
cargo build --release --quiet -p memorysync-server --bin memorysync
target_dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
memorysync_bin=$target_dir/release/memorysync

work=$(mktemp -d "${TMPDIR:-/tmp}/memorysync-proxy.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

upstream_port=$PORT
proxy_port=$((PORT + 1))

# nginx: one worker, no access log, a fixed JSON answer for every path.
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
error_log $work/nginx/logs/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$upstream_port;
        location / {
            default_type application/json;
            return 200 '{"results":[{"id":"n1","text":"a note"}]}';
        }
    }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx.err" &
pids+=($!)

# A key with limits no run reaches; the measured path metered as a query on a plan no run spends.
"$memorysync_bin" keygen --project "$PROJECT" --environment development --id key_proxy \
    --rps 1000000000 --rpm 4000000000 >"$work/keygen.out"
key=$(head -n 1 "$work/keygen.out")
mkdir -p "$work/audit"
{
    cat <<EOF
environment = "development"

[[projects]]
id = "$PROJECT"
adds_per_month = 1000000000000
queries_per_month = 1000000000000

[audit]
dir = "$work/audit"

[[quota.routes]]
method = "GET"
path = "/v2/notes/*"
operation = "query"
EOF
    echo
    tail -n +2 "$work/keygen.out"
} >"$work/config.toml"

RUST_LOG=warn "$memorysync_bin" serve --config "$work/config.toml" \
    --listen "127.0.0.1:$proxy_port" --upstream "http://127.0.0.1:$upstream_port" \
    --instance proxy-load >"$work/memorysync.log" 2>&1 &
pids+=($!)

for port in "$upstream_port" "$proxy_port"; do
    for _ in $(seq 1 100); do
        status=$(curl -s -o /dev/null -w '%{http_code}' \
            -H "authorization: Bearer $key" -H "x-project-id: $PROJECT" \
            "http://127.0.0.1:$port$PATH_" || true)
        [[ $status == 200 ]] && break
        sleep 0.1
    done
    [[ $status == 200 ]] || {
        echo "proxy_load.sh: port $port answered $status" >&2
        cat "$work/memorysync.log" "$work/nginx.err" >&2
        exit 1
    }
done

# seconds, port, output file; prints requests per second
drive() {
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "$1s" --latency \
        -H "Authorization: Bearer $key" -H "X-Project-ID: $PROJECT" \
        "http://127.0.0.1:$2$PATH_" >"$3" 2>&1
    if grep -q 'Non-2xx or 3xx responses' "$3"; then
        echo "proxy_load.sh: some responses were not 2xx:" >&2
        cat "$3" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ {print $2}' "$3"
}
p50() { awk '$1 == "50%" {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }

echo "== wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds, GET $PATH_"
printf '%-6s %-9s %14s %10s %10s\n' round target req/s p50 p99
sum_direct=0
sum_proxied=0
for round in $(seq 1 "$ROUNDS"); do
    for target in direct proxied; do
        port=$upstream_port
        [[ $target == proxied ]] && port=$proxy_port
        drive "$WARMUP" "$port" "$work/warmup.out" >/dev/null
        rps=$(drive "$DURATION" "$port" "$work/$target-$round.out")
        printf '%-6s %-9s %14s %10s %10s\n' "$round" "$target" "$rps" \
            "$(p50 "$work/$target-$round.out")" "$(p99 "$work/$target-$round.out")"
        if [[ $target == direct ]]; then
            sum_direct=$(awk -v a="$sum_direct" -v b="$rps" 'BEGIN {print a + b}')
        else
            sum_proxied=$(awk -v a="$sum_proxied" -v b="$rps" 'BEGIN {print a + b}')
        fi
    done
done
awk -v d="$sum_direct" -v p="$sum_proxied" -v n="$ROUNDS" 'BEGIN {
    printf "mean direct %.0f req/s, proxied %.0f req/s: proxied / direct = %.3f\n", d / n, p / n, p / d
}'
lines=$(cat "$work"/audit/*.jsonl 2>/dev/null | wc -l)
echo "audit lines written by the proxy: $lines"
