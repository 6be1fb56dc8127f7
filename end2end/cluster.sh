#!/usr/bin/env bash
# For the browser suite's Cluster project: starts a private three-node
# Redis Cluster on the given ports (loopback, no persistence) in DIR, then
# runs the given Gatehouse command against it. On exit (Playwright stops
# its web servers with SIGTERM) it stops Gatehouse and the nodes it
# started, by the PIDs it kept.
#
#   cluster.sh DIR PORT,PORT,PORT gatehouse-binary [gatehouse flags...]
set -euo pipefail
dir=$1
ports=$2
shift 2

pids=()
gatehouse=""
cleanup() {
  [ -n "$gatehouse" ] && kill -TERM "$gatehouse" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' TERM INT

# A generous node timeout: the nodes idle for minutes while Chromium loads
# both cores, and a node that misses 2 s of cluster-bus pings is marked
# failed, which takes its slots (and every sign-in) down with it.
IFS=, read -ra list <<< "$ports"
nodes=()
for port in "${list[@]}"; do
  mkdir -p "$dir/$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 15000 \
    --save "" --appendonly no > "$dir/$port/redis.log" 2>&1 &
  pids+=("$!")
  nodes+=("127.0.0.1:$port")
done
for port in "${list[@]}"; do
  until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.1; done
done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes > "$dir/create.log"
for port in "${list[@]}"; do
  until redis-cli -p "$port" cluster info | grep -q '^cluster_state:ok'; do sleep 0.1; done
done
urls=$(printf 'redis://127.0.0.1:%s,' "${list[@]}")
"$@" --redis-cluster-nodes "${urls%,}" &
gatehouse=$!
wait "$gatehouse"
