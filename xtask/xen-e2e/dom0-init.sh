#!/bin/sh
# PID 1 of the xen-e2e dom0: no systemd (dom0 is ready in half the time).
# Brings up what Xen's tools need, runs the payload disk's run.sh with its
# output on the console (which QEMU's serial port shows the harness), then
# powers off; Xen then enters ACPI S5 and QEMU exits.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -o remount,rw /
mkdir -p /var/log/xen/console /run/xen /run/lock /var/lib/xen
ip link set lo up
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-netback xen-blkback bridge veth; do
    modprobe "$m" 2>/dev/null
done
mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen
echo "xen-e2e: dom0 up after $(cut -d' ' -f1 /proc/uptime) s"
/etc/init.d/xen start >/tmp/xen-start.log 2>&1 || { echo "xen-e2e: FAIL xen-tools: cannot start xenstored/xenconsoled"; cat /tmp/xen-start.log; }
mkdir -p /payload
if mount -o ro /dev/vdb /payload; then
    sh /payload/run.sh
else
    echo "xen-e2e: FAIL payload: cannot mount /dev/vdb"
fi
echo "xen-e2e: done"
sync
busybox poweroff -f
