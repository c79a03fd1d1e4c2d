#!/bin/sh
# /init of the baseline Linux PVH domU's initramfs: bring eth0 up at the
# address the harness pings, say so on the console, then idle.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /lib/modules/*.ko; do [ -e "$m" ] && insmod "$m" 2>/dev/null; done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
ip addr add 192.0.2.3/24 dev eth0
ip link set eth0 up
echo "linux-guest: eth0 up"
while true; do sleep 3600; done
