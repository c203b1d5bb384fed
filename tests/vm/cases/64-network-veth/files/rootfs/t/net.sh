#!/bin/sh
# The container's side of -n: its links, host0's address and the default route, a ping to
# the host side; then one TCP exchange with the VM (busybox nc listening on port 7777:
# it answers "pong-from-container" and reports what it got), and the rc's HOLD protocol.
echo "links=$(ip -o link show | sed 's/^[0-9]*: \([^:@]*\).*/\1/' | tr '\n' ' ' | sed 's/ $//')"
echo "host0_addr=$(ip -4 -o addr show dev host0 | awk '{ print $4 }')"
# The interface flags (IFF_*), not operstate or the carrier: the kernel updates those
# asynchronously (linkwatch), so they may lag behind a ping that works.
echo "host0_flags=$(cat /sys/class/net/host0/flags)"
echo "routes=$(ip -4 route show | tr -s ' ' | sed 's/ $//' | tr '\n' ';' | sed 's/;$//')"
gw=$(ip -4 route show default | awk '{ print $3 }')
ping -c 1 -W 5 "$gw" >/dev/null 2>&1
echo "ping_status=$?"
echo pong-from-container | nc -l -p 7777 >/var/tmp/nc.got &
nc=$!
# Ready once the listener is there (/proc/net/tcp: port 7777 = 1E61, state 0A = LISTEN).
i=0
while ! grep -q ':1E61 00000000:0000 0A' /proc/net/tcp && [ $i -lt 100 ]; do usleep 20000; i=$((i + 1)); done
touch /var/tmp/ready
while [ ! -e /var/tmp/go ]; do usleep 20000; done
wait $nc
echo "nc_status=$?"
echo "nc_got=$(cat /var/tmp/nc.got)"
