#!/bin/sh
# /t/ipvlan.sh IF ADDR/N PEER: in a container started with --network-ipvlan (and
# --network-address=off): what the container sees of IF before and after configuring it
# with busybox ip, and a ping to the peer on the parent's segment. KEY=VALUE lines.
IF=$1 ADDR=$2 PEER=$3
ipr() { /opt/ipr/ld.so --library-path /opt/ipr /opt/ipr/ip "$@"; }
echo "links=$(ipr -o link show | sed 's/^[0-9]*: \([^:@]*\).*/\1/' | tr '\n' ' ' | sed 's/ $//')"
j=$(ipr -d -j link show dev "$IF")
echo "kind=$(echo "$j" | sed -n 's/.*"info_kind":"\([^"]*\)".*/\1/p')"
echo "mode=$(echo "$j" | sed -n 's/.*"info_data":{"mode":"\([^"]*\)".*/\1/p')"
echo "info_data=$(echo "$j" | sed -n 's/.*"info_data":\({[^}]*}\).*/\1/p')"
echo "altnames=$(echo "$j" | sed -n 's/.*"altnames":\[\([^]]*\)\].*/\1/p' | tr -d '"')"
echo "mac=$(echo "$j" | sed -n 's/.*"link_type":"ether","address":"\([^"]*\)".*/\1/p')"
echo "state=$(echo "$j" | sed -n 's/.*"operstate":"\([^"]*\)".*/\1/p')"
ip addr add "$ADDR" dev "$IF"
echo "addr_status=$?"
ip link set "$IF" up
echo "up_status=$?"
ping -c 1 -W 5 "$PEER" >/dev/null 2>&1
echo "ping_status=$?"
echo "neigh=$(ip neigh show "$PEER" dev "$IF")"
echo "addr=$(ip -4 -o addr show dev "$IF" | sed -n 's/.* inet \([^ ]*\) .*/\1/p')"
