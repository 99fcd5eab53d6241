#!/usr/bin/env bash
# Throughput and server CPU per request of four servers side by side, on the same request
# (`POST /v1/memories/search` with a small JSON body, an API key and `X-Project-ID`), the same
# handlers and the same load generator settings:
#
#   bare    the server example with `--bare`: no pipeline (it ignores the key and the project)
#   full    the server example: the full pipeline on the in-memory stores, the audit log as the
#           AUDIT setting says
#   subset  the server example with `--stages auth,scope,limit`: only ApiKeyAuth, ProjectScope
#           and SlidingWindowRateLimit, on the in-memory stores
#   stack   benches/diy_stack: axum + a SHA-256/HashMap key layer + tower_governor keyed by the
#           key + TraceLayer, what an engineer would assemble by hand
#   redis   with REDIS_URL: the full pipeline on `store.backend = "redis"`
#   cluster with REDIS_CLUSTER: the same on a Redis Cluster (`redis_url` a list of seeds)
#
# Rounds are interleaved: each round runs every server once, one at a time (the starting server
# rotates from round to round), so a machine that gets busier or quieter affects them alike.
# Each run is WARMUP seconds of load, then DURATION seconds measured. Reported per server: the
# median over rounds of requests per second, its ratio to bare's median, and the median server
# CPU per request (utime + stime of the server process from /proc/PID/stat over the measured
# interval, divided by the requests answered; with REDIS_URL on this machine, Redis's too).
#
#   scripts/load.sh                                   # 10 s per run, 64 connections, 2 threads
#   ROUNDS=5 DURATION=10 scripts/load.sh
#   SERVERS="bare subset stack" ROUNDS=3 scripts/load.sh
#
# Settings (environment variables):
#   DURATION      seconds measured per server and round (default 10)
#   WARMUP        seconds of load before each measurement, not counted (default 2)
#   CONNECTIONS   open connections (default 64)
#   THREADS       load generator threads (default 2)
#   ROUNDS        rounds; every figure reported is a median over them (default 3)
#   SERVERS       which of bare, full, subset, stack to run, in this order in the first round
#                 (default "bare full subset stack"); the ratios need bare
#   AUDIT         where the full server writes its audit log: "dir" (JSON Lines in a temporary
#                 directory, as in production; default) or "memory" (grows with every request)
#   PORT          first of six consecutive loopback ports, one per server (default 18080);
#                 each must be free
#   LOADGEN       "wrk" or "oha" to choose; by default wrk if installed, else oha
#   KEEP=1        keep the temporary directory (config, server logs, load generator outputs)
#   REDIS_URL     also measure the full pipeline on `store.backend = "redis"` against this
#                 Redis (e.g. redis://127.0.0.1:6379/14; the database is flushed before each
#                 run), interleaved with the others
#   REDIS_CLUSTER also measure the full pipeline on a Redis Cluster through these seed nodes,
#                 comma-separated (e.g. what `scripts/local_cluster.sh start` prints; every
#                 master is flushed before each run), interleaved with the others
#
# The key allows 10^9 requests a second to every server, so no run measures refusals; the first
# request to each server must answer 200. Servers log at `warn` into files in the temporary
# directory: nothing is written per request (TraceLayer logs at debug), so logging is not what is
# measured. Every server is stopped on exit.
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-bare full subset stack}
AUDIT=${AUDIT:-dir}
PORT=${PORT:-18080}
PROJECT=proj_load
RPS=1000000000
BODY='{"query":"load"}'
PATH_=/v1/memories/search

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

fail() {
    echo "load.sh: $*" >&2
    exit 1
}

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
command -v curl >/dev/null 2>&1 ||
    fail "curl is needed to check the servers answer (apt-get install -y curl)"
[[ -r /proc/self/stat ]] || fail "the server CPU is read from /proc/PID/stat: Linux only"
[[ $AUDIT == dir || $AUDIT == memory ]] || fail "AUDIT must be dir or memory"
for n in "$DURATION" "$WARMUP" "$ROUNDS" "$PORT"; do
    [[ $n =~ ^[0-9]+$ ]] || fail "DURATION, WARMUP, ROUNDS and PORT are whole numbers"
done
((DURATION > 0 && ROUNDS > 0)) || fail "DURATION and ROUNDS must be at least 1"

# name -> port; a server's port does not depend on which others run.
declare -A port_of=([bare]=$PORT [full]=$((PORT + 1)) [subset]=$((PORT + 2))
    [stack]=$((PORT + 3)) [redis]=$((PORT + 4)) [cluster]=$((PORT + 5)))
servers=()
for name in $SERVERS; do
    [[ $name =~ ^(bare|full|subset|stack)$ ]] ||
        fail "SERVERS: unknown server $name (bare, full, subset, stack)"
    servers+=("$name")
done
[[ -n ${REDIS_URL:-} ]] && servers+=(redis)
[[ -n ${REDIS_CLUSTER:-} ]] && servers+=(cluster)
((${#servers[@]} > 0)) || fail "SERVERS names no server"

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for name in "${servers[@]}"; do
    ! port_in_use "${port_of[$name]}" ||
        fail "port ${port_of[$name]} (for $name) is in use; choose another PORT"
done

echo "== building (release): the server example, benches/diy_stack, the memorysync binary (keygen)"
cargo build --release --quiet --features redis --example server
cargo build --release --quiet -p memorysync-server --bin memorysync
# A bench target's file name carries a hash: ask cargo where it put it.
stack_bin=$(cargo build --release --quiet --bench diy_stack --message-format=json |
    sed -n 's/.*"executable":"\([^"]*diy_stack[^"]*\)".*/\1/p' | tail -n 1)
[[ -x $stack_bin ]] || fail "cargo did not report where benches/diy_stack was built"
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
    fi
    if [[ -n $server_pid ]]; then
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
    --rps "$RPS" --rpm 4000000000 >"$work/keygen.out"
key=$(head -n 1 "$work/keygen.out")
audit_line=
if [[ $AUDIT == dir ]]; then
    mkdir -p "$work/audit"
    audit_line="dir = \"$work/audit\""
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
redis_pid=
if [[ -n ${REDIS_URL:-} ]]; then
    sed -e "s|^backend = \"memory\"|backend = \"redis\"\nredis_url = \"$REDIS_URL\"|" \
        "$work/config.toml" >"$work/config-redis.toml"
    # Redis's own CPU is reported too when it runs on this machine.
    redis_pid=$(redis-cli -u "$REDIS_URL" info server 2>/dev/null |
        sed -n 's/^process_id:\([0-9]*\).*/\1/p')
    if [[ -n $redis_pid && ! -r /proc/$redis_pid/stat ]]; then
        redis_pid=
    fi
fi

# The same on a Redis Cluster.
if [[ -n ${REDIS_CLUSTER:-} ]]; then
    seeds=$(echo "$REDIS_CLUSTER" | sed -e 's/[^,][^,]*/"&"/g' -e 's/,/, /g')
    sed -e "s|^backend = \"memory\"|backend = \"redis\"\nredis_url = [$seeds]|" \
        "$work/config.toml" >"$work/config-cluster.toml"
fi

# Empties every master of the cluster (a replica refuses, and follows its master).
flush_cluster() {
    local seed
    for seed in ${REDIS_CLUSTER//,/ }; do
        redis-cli -u "$seed" flushall >/dev/null 2>&1 || true
    done
}

# name, port: sets `argv` to the program and arguments that serve `name` on `port`.
server_argv() {
    local name=$1 port=$2 config=$work/config.toml
    [[ $name == redis ]] && config=$work/config-redis.toml
    [[ $name == cluster ]] && config=$work/config-cluster.toml
    case $name in
    stack) argv=("$stack_bin" --config "$config" --listen "127.0.0.1:$port") ;;
    *) argv=("$server_bin" --config "$config" --listen "127.0.0.1:$port") ;;
    esac
    case $name in
    bare) argv+=(--bare) ;;
    subset) argv+=(--stages auth,scope,limit) ;;
    esac
}

# name, port: starts the server and checks that the measured request is admitted.
start_server() {
    local name=$1 port=$2
    port_in_use "$port" && fail "port $port (for $name) is in use"
    if [[ $name == redis ]]; then
        redis-cli -u "$REDIS_URL" flushdb >/dev/null
    fi
    [[ $name == cluster ]] && flush_cluster
    local argv
    server_argv "$name" "$port"
    RUST_LOG=warn "${argv[@]}" >"$work/$name.log" 2>&1 &
    server_pid=$!
    local answered=
    for _ in $(seq 1 100); do
        # Any HTTP answer will do: only bare and full serve /health unauthenticated.
        if curl -s -o /dev/null "http://127.0.0.1:$port/health"; then
            answered=1
            break
        fi
        kill -0 "$server_pid" 2>/dev/null || {
            cat "$work/$name.log" >&2
            fail "the $name server exited"
        }
        sleep 0.1
    done
    [[ -n $answered ]] || fail "the $name server did not answer on port $port within 10 s"
    # The measured request must be admitted, or the run measures rejections.
    local status
    status=$(curl -s -o "$work/$name.answer" -w '%{http_code}' -X POST \
        -H "authorization: Bearer $key" -H "x-project-id: $PROJECT" \
        -H 'content-type: application/json' -d "$BODY" "http://127.0.0.1:$port$PATH_")
    if [[ $status != 200 ]]; then
        fail "the $name server answered $status: $(cat "$work/$name.answer")"
    fi
}

cat >"$work/request.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["X-Project-ID"] = "$PROJECT"
EOF

# seconds, port, output file; prints "requests-per-second requests"
drive() {
    local seconds=$1 port=$2 out=$3
    local url="http://127.0.0.1:$port$PATH_"
    if [[ $loadgen == wrk ]]; then
        wrk -t "$THREADS" -c "$CONNECTIONS" -d "${seconds}s" --latency \
            -s "$work/request.lua" "$url" >"$out" 2>&1
        if grep -q 'Non-2xx or 3xx responses' "$out"; then
            cat "$out" >&2
            fail "some responses were not 2xx"
        fi
        awk '/^Requests\/sec:/ {rps = $2} / requests in / {n = $1}
            END {print rps, n}' "$out"
    else
        oha --no-tui -z "${seconds}s" -c "$CONNECTIONS" -m POST \
            -H "authorization: Bearer $key" -H "x-project-id: $PROJECT" \
            -T application/json -d "$BODY" "$url" >"$out" 2>&1
        if grep -E '^\s*\[[0-9]+\]' "$out" | grep -vq '\[200\]'; then
            cat "$out" >&2
            fail "some responses were not 200"
        fi
        awk '/Requests\/sec:/ && !rps {rps = $2} /^\s*\[200\]/ {n = $2}
            END {print rps, n}' "$out"
    fi
}

# pid: CPU seconds the process has used (user + system), from /proc/PID/stat. The fields are
# counted after the command name, which is in parentheses and may hold spaces.
cpu_seconds() {
    local ticks
    ticks=$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}')
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.6f", t / hz}'
}

# One file per server and figure, one line per round: rps, cpu (µs per request), redis_cpu.
record() {
    echo "$3" >>"$work/$1.$2"
}

# name, round: one run; records and prints its figures.
measure() {
    local name=$1 round=$2 port=${port_of[$1]}
    start_server "$name" "$port"
    if ((WARMUP > 0)); then
        drive "$WARMUP" "$port" "$work/$name.warmup.$round.txt" >/dev/null
    fi
    local cpu_before redis_before figures cpu_after redis_after
    cpu_before=$(cpu_seconds "$server_pid")
    [[ -n $redis_pid ]] && redis_before=$(cpu_seconds "$redis_pid")
    figures=$(drive "$DURATION" "$port" "$work/$name.$round.txt")
    cpu_after=$(cpu_seconds "$server_pid")
    [[ -n $redis_pid ]] && redis_after=$(cpu_seconds "$redis_pid")
    stop_server
    local rps requests cpu redis_cpu=
    read -r rps requests <<<"$figures"
    [[ -n $rps && -n $requests && $requests -gt 0 ]] ||
        fail "no figures from $loadgen for $name: see $work/$name.$round.txt (KEEP=1 keeps it)"
    cpu=$(awk -v a="$cpu_before" -v b="$cpu_after" -v n="$requests" \
        'BEGIN {printf "%.2f", (b - a) * 1e6 / n}')
    record "$name" rps "$rps"
    record "$name" cpu "$cpu"
    if [[ $name == redis && -n $redis_pid ]]; then
        redis_cpu=$(awk -v a="$redis_before" -v b="$redis_after" -v n="$requests" \
            'BEGIN {printf "%.2f", (b - a) * 1e6 / n}')
        record "$name" redis_cpu "$redis_cpu"
    fi
    local lines
    lines=$(grep -vc -e '^server example on' -e '^diy stack on' -e '^audit log closed' \
        "$work/$name.log" || true)
    printf '%-6s round %d: %10.1f requests/s %7.2f µs CPU/request' "$name" "$round" "$rps" "$cpu"
    [[ -n $redis_cpu ]] && printf ' (+ Redis %.2f µs)' "$redis_cpu"
    grep -E '^ +(50|99)%' "$work/$name.$round.txt" 2>/dev/null |
        awk '{printf "  p%s %s", $1, $2}' | sed 's/%//g' || true
    printf '  (%s server log lines)' "$lines"
    grep -h '^audit log closed' "$work/$name.log" | sed 's/^/; /' | tr -d '\n' || true
    echo
}

# file: the median of its lines, or "-" when it has none.
median() {
    [[ -s $1 ]] || {
        echo -
        return
    }
    sort -g "$1" | awk '{v[NR] = $1} END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "== $loadgen: $CONNECTIONS connections, $THREADS threads, ${WARMUP}s warm-up + ${DURATION}s measured per run, $ROUNDS round(s); audit: $AUDIT"
echo "   request: POST $PATH_ $BODY with Authorization and X-Project-ID; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
count=${#servers[@]}
for round in $(seq 1 "$ROUNDS"); do
    for i in $(seq 0 $((count - 1))); do
        measure "${servers[$(((i + round - 1) % count))]}" "$round"
    done
done

bare_rps=$(median "$work/bare.rps")
echo
echo "== medians over $ROUNDS round(s); load average now $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %14s %8s %16s\n' server requests/s "/ bare" "µs CPU/request"
for name in "${servers[@]}"; do
    rps=$(median "$work/$name.rps")
    cpu=$(median "$work/$name.cpu")
    ratio=-
    [[ $bare_rps != - ]] && ratio=$(awk -v r="$rps" -v b="$bare_rps" 'BEGIN {printf "%.2f", r / b}')
    printf '%-8s %14.1f %8s %16.2f' "$name" "$rps" "$ratio" "$cpu"
    [[ -s $work/$name.redis_cpu ]] && printf '  + Redis %.2f' "$(median "$work/$name.redis_cpu")"
    echo
done
# The performance issue's goals on the wire.
if [[ -s $work/full.rps && $bare_rps != - ]]; then
    awk -v f="$(median "$work/full.rps")" -v b="$bare_rps" 'BEGIN {
        printf "full / bare:     %.2f  (goal >= 0.85: %s)\n", f / b, (f / b >= 0.85 ? "met" : "not met") }'
fi
if [[ -s $work/subset.rps && -s $work/stack.rps ]]; then
    awk -v s="$(median "$work/subset.rps")" -v d="$(median "$work/stack.rps")" 'BEGIN {
        printf "subset / stack:  %.2f  (goal >= 1.00: %s)\n", s / d, (s >= d ? "met" : "not met") }'
fi
if [[ -s $work/redis.rps && -s $work/full.rps ]]; then
    awk -v r="$(median "$work/redis.rps")" -v f="$(median "$work/full.rps")" 'BEGIN {
        printf "redis / full:    %.2f  (goal >= 0.50: %s)\n", r / f, (r / f >= 0.5 ? "met" : "not met") }'
fi
