#!/usr/bin/env bash
# Throughput of the oxbpf load balancer on the namespace topology of the
# demo (root), in kernel and userspace mode of `oxbpf lb run`:
#
# - packets per second: `oxbpf xdp gen` floods 64-byte UDP frames to the
#   UDP VIP 10.200.0.1:9000 (1,000 flows) from the router straight into the
#   balancer's veth for SECONDS; the figure is what the balancer sent back
#   encapsulated (the router's receive counter on that veth) per second;
# - connections per second: `lb_netns cps` in the client namespace,
#   THREADS threads each looping connect, HTTP request, answer, close
#   through the VIP (DSR: answers go straight back) for SECONDS.
#
#   scripts/lb-bench.sh [SECONDS] [THREADS] [generic|native]
#                                   (default 5 s, 4 threads, generic XDP)
#
# Prints a table with the kernel/userspace ratio. With `native`, the
# balancer (kernel mode) or its steering program (userspace mode) attaches
# in native XDP mode and the router's end of the veth gets the `pass`
# program of apps/lb/bpf/decap.bpf.c, which a veth needs to receive native
# XDP_TX (see README "Load balancer: demo in namespaces").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
secs="${1:-5}"
threads="${2:-4}"
xdp_mode="${3:-generic}"
case "$xdp_mode" in generic | native) ;; *) say "XDP mode: generic or native"; exit 2 ;; esac
lb_prepare "the benchmark"
prefix=oxlbb
pids=()
daemon=""
stop_all() {
    set +e
    [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    daemon=""
    [ -n "${LB_NS:-}" ] && nsenter --net="/var/run/netns/$LB_NS" "$oxbpf" lb stop --iface "$LB_IF" >/dev/null 2>&1
    [ -n "${LB_ROUTER_NS:-}" ] && nsenter --net="/var/run/netns/$LB_ROUTER_NS" "$oxbpf" xdp detach "$LB_ROUTER_LB_IF" >/dev/null 2>&1
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    pids=()
    "$netns" down --prefix "$prefix"
    rm -rf /sys/fs/bpf/oxbpf/"$prefix"*
    set -e
}
trap 'stop_all; rm -rf "$work"' EXIT

rx_packets() { # NS DEV
    ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_packets"
}

declare -A pps cps
for mode in kernel userspace; do
    say "mode $mode: topology, backends, daemon"
    "$netns" up --prefix "$prefix" --backends 3 --oxbpf "$oxbpf" --decap-object "$work/decap.o" >"$work/vars.sh"
    # shellcheck disable=SC1091
    source "$work/vars.sh"
    k=0
    for ns in $LB_BACKEND_NS; do
        k=$((k + 1))
        ip netns exec "$ns" "$netns" serve "b$k" >/dev/null &
        pids+=("$!")
    done
    if [ "$xdp_mode" = native ]; then
        nsenter --net="/var/run/netns/$LB_ROUTER_NS" "$oxbpf" xdp attach "$LB_ROUTER_LB_IF" \
            "$work/decap.o" --prog pass --mode kernel --xdp-mode native >&2
    fi
    {
        printf 'nexthop_mac: "%s"\nencap: ipip\nvips:\n' "$LB_NEXTHOP_MAC"
        for vip in "port: 80\n    proto: tcp" "port: 9000\n    proto: udp"; do
            printf '  - address: %s\n    %b\n    backends:\n' "$LB_VIP" "$vip"
            for a in $LB_BACKEND_IPS; do printf '      - { address: %s, weight: 1 }\n' "$a"; done
        done
    } >"$work/lb.yaml"
    nsenter --net="/var/run/netns/$LB_NS" "$oxbpf" lb run --config "$work/lb.yaml" \
        --iface "$LB_IF" --mode "$mode" --xdp-mode "$xdp_mode" --api "$work/api.sock" >"$work/daemon.log" 2>&1 &
    daemon=$!
    for _ in $(seq 600); do
        grep -q '^lb: ready' "$work/daemon.log" && break
        kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log"; exit 1; }
        sleep 0.1
    done
    grep '^lb: ready' "$work/daemon.log" >&2

    say "mode $mode: UDP flood for ${secs}s"
    before="$(rx_packets "$LB_ROUTER_NS" "$LB_ROUTER_LB_IF")"
    gen="$(ip netns exec "$LB_ROUTER_NS" "$oxbpf" xdp gen "$LB_ROUTER_LB_IF" --dst-ip "$LB_VIP" \
        --dst-mac "$LB_MAC" --src-ip 10.210.1.2 --dst-port 9000 --mix udp:64 --flows 1000 \
        --duration "$secs" --json)"
    sleep 0.5
    after="$(rx_packets "$LB_ROUTER_NS" "$LB_ROUTER_LB_IF")"
    sent="$(echo "$gen" | jq -r .packets)"
    gsecs="$(echo "$gen" | jq -r .seconds)"
    pps[$mode]="$(echo "($after - $before) / $gsecs" | bc -l)"
    say "mode $mode: offered $sent packets in ${gsecs}s, balanced $((after - before))"

    say "mode $mode: connection loop for ${secs}s, $threads threads"
    out="$(ip netns exec "$LB_CLIENT_NS" "$netns" cps --seconds "$secs" --threads "$threads")"
    echo "$out" >&2
    cps[$mode]="$(echo "$out" | jq -r .cps)"
    stop_all
done

printf '\n%s XDP, %s s, %s client threads\n' "$xdp_mode" "$secs" "$threads"
printf '\n| metric | kernel | userspace | kernel / userspace |\n|---|---:|---:|---:|\n'
for m in pps cps; do
    if [ "$m" = pps ]; then k="${pps[kernel]}" u="${pps[userspace]}" name="packets/s (UDP 64 B, balanced)"
    else k="${cps[kernel]}" u="${cps[userspace]}" name="connections/s (TCP connect+request+close)"; fi
    ratio="$(echo "if ($u > 0) $k / $u else 0" | bc -l)"
    printf '| %s | %.0f | %.0f | %.2f |\n' "$name" "$k" "$u" "$ratio"
done
