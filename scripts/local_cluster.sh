#!/usr/bin/env bash
# A Redis Cluster on this machine, for trying `redis_url = [...]` and for `scripts/load.sh`:
# three masters and three replicas on loopback ports BASE to BASE + 5 (cluster bus ports
# BASE + 10000 to BASE + 10005), kept in DIR.
#
#   scripts/local_cluster.sh start     # prints REDIS_CLUSTER=<the six seed URLs, comma-separated>
#   scripts/local_cluster.sh stop
#
# Settings: BASE (default 7100), DIR (default /tmp/memorysync-cluster), NODE_TIMEOUT_MS (default
# 5000: how long a master may not answer before its replica takes over), APPENDONLY (default
# "no"; "yes" as production wants it). The nodes keep serving their own slots while another
# master is down (`cluster-require-full-coverage no`), as the README advises.
set -euo pipefail

BASE=${BASE:-7100}
DIR=${DIR:-/tmp/memorysync-cluster}
NODE_TIMEOUT_MS=${NODE_TIMEOUT_MS:-5000}
APPENDONLY=${APPENDONLY:-no}
ports=$(seq "$BASE" $((BASE + 5)))

case ${1:-} in
start)
    mkdir -p "$DIR"
    for port in $ports; do
        mkdir -p "$DIR/$port"
        redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
            --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log" --dir "$DIR/$port" \
            --cluster-enabled yes --cluster-config-file nodes.conf \
            --cluster-node-timeout "$NODE_TIMEOUT_MS" --cluster-require-full-coverage no \
            --save '' --appendonly "$APPENDONLY"
    done
    for port in $ports; do
        for _ in $(seq 1 100); do
            redis-cli -p "$port" ping >/dev/null 2>&1 && break
            sleep 0.05
        done
    done
    addresses=$(for port in $ports; do printf '127.0.0.1:%s ' "$port"; done)
    # shellcheck disable=SC2086
    redis-cli --cluster create $addresses --cluster-replicas 1 --cluster-yes >"$DIR/create.log"
    for _ in $(seq 1 200); do
        redis-cli -p "$BASE" cluster info | grep -q 'cluster_state:ok' && break
        sleep 0.05
    done
    seeds=$(for port in $ports; do printf 'redis://127.0.0.1:%s,' "$port"; done)
    echo "REDIS_CLUSTER=${seeds%,}"
    ;;
stop)
    for port in $ports; do
        redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    done
    rm -rf "$DIR"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
