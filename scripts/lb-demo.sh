#!/usr/bin/env bash
# The oxbpf load balancer with direct server return, in network namespaces
# (root): a client, a router, the balancer on a veth and three HTTP
# backends (see crates/testkit/src/lbnet.rs for the topology). Builds
# oxbpf (release) and the namespace helper, starts `oxbpf lb run`, sends
# connections to the VIP, drains a backend, shows the stats, and removes
# everything on exit.
#
#   scripts/lb-demo.sh [kernel|userspace]     (default kernel)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
mode="${1:-kernel}"
case "$mode" in kernel | userspace) ;; *) say "usage: $0 [kernel|userspace]"; exit 2 ;; esac
lb_prepare "the demo"

prefix=oxlbd
pids=()
cleanup() {
    set +e
    [ -n "${daemon:-}" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    [ -n "${LB_NS:-}" ] && nsenter --net="/var/run/netns/$LB_NS" "$oxbpf" lb stop --iface "$LB_IF" >/dev/null 2>&1
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    "$netns" down --prefix "$prefix"
    rm -rf /sys/fs/bpf/oxbpf/"$prefix"* "$work"
    say "removed the namespaces"
}
trap cleanup EXIT

say "topology: client - router - balancer, router - 3 backends"
"$netns" up --prefix "$prefix" --backends 3 --oxbpf "$oxbpf" --decap-object "$work/decap.o" >"$work/vars.sh"
# shellcheck disable=SC1091
source "$work/vars.sh"
cat "$work/vars.sh"
k=0
for ns in $LB_BACKEND_NS; do
    k=$((k + 1))
    ip netns exec "$ns" "$netns" serve "b$k" >/dev/null &
    pids+=("$!")
done

cat >"$work/lb.yaml" <<EOF
nexthop_mac: "$LB_NEXTHOP_MAC"   # the router's side of the balancer's veth
encap: ipip
health_defaults: { interval_ms: 500, timeout_ms: 300, rise: 2, fall: 2 }
vips:
  - address: $LB_VIP
    port: 80
    proto: tcp
    backends:
EOF
for a in $LB_BACKEND_IPS; do
    printf '      - { address: %s, weight: 1, health: { tcp: 80 } }\n' "$a" >>"$work/lb.yaml"
done
say "configuration ($work/lb.yaml):"
cat "$work/lb.yaml"

api="$work/api.sock"
say "starting: oxbpf lb run --mode $mode --iface $LB_IF (in $LB_NS)"
# nsenter switches only the network namespace, so kernel-mode pins land on
# the host's bpffs (ip netns exec would give the daemon a private mount).
nsenter --net="/var/run/netns/$LB_NS" "$oxbpf" lb run --config "$work/lb.yaml" \
    --iface "$LB_IF" --mode "$mode" --xdp-mode generic --api "$api" >"$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 600); do
    grep -q '^lb: ready' "$work/daemon.log" && break
    kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log"; exit 1; }
    sleep 0.1
done
cat "$work/daemon.log"
lb() { "$oxbpf" lb "$@" --api "$api"; }

say "oxbpf lb backend list $LB_VIP:80/tcp"
lb backend list "$LB_VIP:80/tcp"
if command -v curl >/dev/null 2>&1; then
    say "curl http://$LB_VIP/ from the client, three times"
    for _ in 1 2 3; do ip netns exec "$LB_CLIENT_NS" curl -s "http://$LB_VIP/"; done
fi
say "300 connections from the client"
ip netns exec "$LB_CLIENT_NS" "$netns" client --conns 300
first="$(echo "$LB_BACKEND_IPS" | awk '{print $1}')"
say "oxbpf lb backend drain $LB_VIP:80/tcp $first"
lb backend drain "$LB_VIP:80/tcp" "$first"
say "300 more connections: none on the drained backend"
ip netns exec "$LB_CLIENT_NS" "$netns" client --conns 300
say "oxbpf lb stats"
lb stats
if command -v curl >/dev/null 2>&1; then
    say "metrics (excerpt of curl --unix-socket $api http://lb/metrics)"
    curl -s --unix-socket "$api" http://lb/metrics |
        grep -E '^oxbpf_lb_(vip_packets|backend_packets|backend_healthy|conn_table)' || true
fi
