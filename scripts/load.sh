#!/usr/bin/env bash
# Throughput of the server example with no pipeline (`--bare`) and with the full pipeline on
# the in-memory stores, driven by the same HTTP load generator with the same settings, on the
# same request: `POST /v1/memories/search` with a small JSON body, an API key and
# `X-Project-ID` (the bare server ignores both). Prints both throughputs and their ratio; the
# goal of the performance issue is full / bare >= 90%.
#
#   scripts/load.sh                         # 10 s per run, 64 connections, 2 threads
#   DURATION=5 CONNECTIONS=32 scripts/load.sh
#
# Settings (environment variables):
#   DURATION      seconds measured per server and round (default 10)
#   WARMUP        seconds of load before each measurement, not counted (default 2)
#   CONNECTIONS   open connections (default 64)
#   THREADS       load generator threads (default 2)
#   ROUNDS        bare-then-full rounds; the ratio is of the mean throughputs (default 1)
#   AUDIT         where the full server writes its audit log: "dir" (JSON Lines in a temporary
#                 directory, as in production; default) or "memory" (grows with every request)
#   PORT          first of the two loopback ports used (default 18080)
#   LOADGEN       "wrk" or "oha" to choose; by default wrk if installed, else oha
#   KEEP=1        keep the temporary directory (config, server logs, audit files)
#   REDIS_URL     also measure the full pipeline on `store.backend = "redis"` against this
#                 Redis (e.g. redis://127.0.0.1:6379/14; the database is flushed before each
#                 run), side by side with the other two
#
# Both servers log at `warn` into files in the temporary directory: nothing is written per
# request (the server's `TraceLayer` logs at debug), so logging is not what is measured.
# The two servers run one after the other, never at once, and are stopped on exit.
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
AUDIT=${AUDIT:-dir}
PORT=${PORT:-18080}
PROJECT=proj_load
BODY='{"query":"load"}'
PATH_=/v1/memories/search

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

loadgen=${LOADGEN:-}
if [[ -z $loadgen ]]; then
    if command -v wrk >/dev/null 2>&1; then
        loadgen=wrk
    elif command -v oha >/dev/null 2>&1; then
        loadgen=oha
    fi
fi
if [[ -z $loadgen ]] || ! command -v "$loadgen" >/dev/null 2>&1; then
    cat >&2 <<'EOF'
load.sh: no HTTP load generator found. Install one of:
  wrk:  apt-get install -y wrk        (Debian/Ubuntu; macOS: brew install wrk)
  oha:  cargo install oha             (or a release binary from github.com/hatoo/oha)
EOF
    exit 1
fi
if ! command -v curl >/dev/null 2>&1; then
    echo "load.sh: curl is needed to check the servers answer (apt-get install -y curl)" >&2
    exit 1
fi

echo "== building (release): the server example and the memorysync binary (keygen)"
cargo build --release --quiet --features redis --example server
cargo build --release --quiet -p memorysync-server --bin memorysync
target_dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
server_bin=$target_dir/release/examples/server
memorysync_bin=$target_dir/release/memorysync

work=$(mktemp -d "${TMPDIR:-/tmp}/memorysync-load.XXXXXX")
server_pid=

stop_server() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        # A graceful stop flushes the audit log; give it a moment, then insist.
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}

cleanup() {
    stop_server
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A development key with limits no run reaches, for a project with quotas no run spends.
"$memorysync_bin" keygen --project "$PROJECT" --environment development --id key_load \
    --rps 1000000000 --rpm 4000000000 >"$work/keygen.out"
key=$(head -n 1 "$work/keygen.out")
audit_line=
if [[ $AUDIT == dir ]]; then
    mkdir -p "$work/audit"
    audit_line="dir = \"$work/audit\""
elif [[ $AUDIT != memory ]]; then
    echo "load.sh: AUDIT must be dir or memory" >&2
    exit 1
fi
{
    cat <<EOF
environment = "development"

[store]
backend = "memory"

[[projects]]
id = "$PROJECT"
adds_per_month = 1000000000000
queries_per_month = 1000000000000

[audit]
$audit_line
EOF
    echo
    tail -n +2 "$work/keygen.out"
} >"$work/config.toml"

# The same with every store on Redis (the audit log stays where AUDIT says, so that only the
# stores differ).
if [[ -n ${REDIS_URL:-} ]]; then
    sed -e "s|^backend = \"memory\"|backend = \"redis\"\nredis_url = \"$REDIS_URL\"|" \
        "$work/config.toml" >"$work/config-redis.toml"
fi

# name, port, extra server arguments
start_server() {
    local name=$1 port=$2 config=$work/config.toml
    shift 2
    if [[ $name == redis ]]; then
        config=$work/config-redis.toml
        redis-cli -u "$REDIS_URL" flushdb >/dev/null
    fi
    RUST_LOG=warn "$server_bin" --config "$config" --listen "127.0.0.1:$port" "$@" \
        >"$work/$name.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/health"; then
            break
        fi
        kill -0 "$server_pid" 2>/dev/null || {
            echo "load.sh: the $name server exited:" >&2
            cat "$work/$name.log" >&2
            exit 1
        }
        sleep 0.1
    done
    # The measured request must be admitted, or the run measures rejections.
    local status
    status=$(curl -s -o "$work/$name.answer" -w '%{http_code}' -X POST \
        -H "authorization: Bearer $key" -H "x-project-id: $PROJECT" \
        -H 'content-type: application/json' -d "$BODY" "http://127.0.0.1:$port$PATH_")
    if [[ $status != 200 ]]; then
        echo "load.sh: the $name server answered $status: $(cat "$work/$name.answer")" >&2
        exit 1
    fi
}

cat >"$work/request.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["X-Project-ID"] = "$PROJECT"
EOF

# seconds, port, output file; prints requests per second
drive() {
    local seconds=$1 port=$2 out=$3
    local url="http://127.0.0.1:$port$PATH_"
    if [[ $loadgen == wrk ]]; then
        wrk -t "$THREADS" -c "$CONNECTIONS" -d "${seconds}s" --latency \
            -s "$work/request.lua" "$url" >"$out" 2>&1
        if grep -q 'Non-2xx or 3xx responses' "$out"; then
            echo "load.sh: some responses were not 2xx:" >&2
            cat "$out" >&2
            exit 1
        fi
        awk '/^Requests\/sec:/ {print $2}' "$out"
    else
        oha --no-tui -z "${seconds}s" -c "$CONNECTIONS" -m POST \
            -H "authorization: Bearer $key" -H "x-project-id: $PROJECT" \
            -T application/json -d "$BODY" "$url" >"$out" 2>&1
        if grep -E '^\s*\[[0-9]+\]' "$out" | grep -vq '\[200\]'; then
            echo "load.sh: some responses were not 200:" >&2
            cat "$out" >&2
            exit 1
        fi
        awk '/Requests\/sec:/ {print $2; exit}' "$out"
    fi
}

# name, port, round, extra server arguments; sets `measured` to the requests per second.
# Runs in this shell (not in a command substitution) so that the exit trap knows the server.
measure() {
    local name=$1 port=$2 round=$3
    shift 3
    start_server "$name" "$port" "$@"
    if ((WARMUP > 0)); then
        drive "$WARMUP" "$port" "$work/$name.warmup.$round.txt" >/dev/null
    fi
    measured=$(drive "$DURATION" "$port" "$work/$name.$round.txt")
    stop_server
    local lines
    lines=$(grep -vc -e '^memorysync server on' -e '^no API keys' -e '^to create a development key' \
        -e '^then add' -e '^shutting down' -e '^audit log flushed' -e '^memorysync server stopped' \
        "$work/$name.log" || true)
    printf '%-5s round %d: %12.1f requests/s' "$name" "$round" "$measured"
    grep -E '^ +(50|99)%' "$work/$name.$round.txt" 2>/dev/null |
        awk '{printf "  p%s %s", $1, $2}' | sed 's/%//g' || true
    printf '  (%s other server log lines)' "$lines"
    grep -h '^audit log flushed' "$work/$name.log" | sed 's/^/; /' | tr -d '\n' || true
    echo
}

echo "== $loadgen: $CONNECTIONS connections, $THREADS threads, ${WARMUP}s warm-up + ${DURATION}s measured per run, $ROUNDS round(s); audit: $AUDIT"
echo "   request: POST $PATH_ $BODY with Authorization and X-Project-ID; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
bare_sum=0
full_sum=0
redis_sum=0
for round in $(seq 1 "$ROUNDS"); do
    measure bare "$PORT" "$round" --bare
    bare=$measured
    measure full "$((PORT + 1))" "$round"
    full=$measured
    bare_sum=$(awk -v a="$bare_sum" -v b="$bare" 'BEGIN {print a + b}')
    full_sum=$(awk -v a="$full_sum" -v b="$full" 'BEGIN {print a + b}')
    if [[ -n ${REDIS_URL:-} ]]; then
        measure redis "$((PORT + 2))" "$round"
        redis_sum=$(awk -v a="$redis_sum" -v b="$measured" 'BEGIN {print a + b}')
    fi
done
awk -v b="$bare_sum" -v f="$full_sum" -v r="$redis_sum" -v n="$ROUNDS" 'BEGIN {
    ratio = 100 * f / b
    printf "bare (no pipeline):  %12.1f requests/s\n", b / n
    printf "full pipeline:       %12.1f requests/s\n", f / n
    if (r > 0) printf "full, Redis stores:  %12.1f requests/s  (%.1f%% of in-memory)\n", r / n, 100 * r / f
    printf "full / bare:         %11.1f%%  (goal >= 90%%: %s)\n", ratio, (ratio >= 90 ? "met" : "not met")
}'
