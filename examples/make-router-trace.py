#!/usr/bin/env python3
"""Writes examples/router-trace.pcap, the input of examples/ip-router.click: 1000
frames arriving on the router's eth0 (00:00:c0:ae:67:ef, 18.26.4.24), a fixed mix
of what a router meets. Deterministic: rerunning it gives the same bytes."""
import struct

ROUTER = bytes.fromhex("0000c0ae67ef")
HOST = bytes.fromhex("020000000009")  # 18.26.4.9, a host on eth0's network


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip(src, dst, payload, ttl=64, df=False, ident=1, proto=17, bad=False):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000 if df else 0,
                      ttl, proto, 0, bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    s = csum(hdr) ^ (0x1234 if bad else 0)
    return hdr[:10] + struct.pack("!H", s) + hdr[12:] + payload


def udp(sport, dport, n):
    return struct.pack("!HHHH", sport, dport, 8 + n, 0) + bytes((i * 7) & 0xFF for i in range(n))


def eth(dst, typ, body):
    return dst + HOST + struct.pack("!H", typ) + body


def arp_query(target):
    return eth(b"\xff" * 6, 0x0806, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, HOST,
                                                 bytes([18, 26, 4, 9]), b"\0" * 6,
                                                 bytes(map(int, target.split(".")))))


frames = []
for i in range(1000):
    k = i % 20
    if k < 10:    # to a host behind eth1: forwarded
        f = eth(ROUTER, 0x0800, ip("18.26.4.9", "18.26.7.%d" % (2 + i % 50), udp(1000 + i, 9, 32), ident=i))
    elif k < 13:  # to the Internet: out eth0 again, through the gateway
        f = eth(ROUTER, 0x0800, ip("18.26.4.9", "93.184.216.%d" % (i % 200), udp(2000, 443, 64), ident=i))
    elif k == 13:  # TTL runs out here: ICMP time exceeded
        f = eth(ROUTER, 0x0800, ip("18.26.4.9", "18.26.7.2", udp(3000, 33434, 16), ttl=1, ident=i))
    elif k == 14:  # too big for eth1's 576-byte MTU: fragmented
        f = eth(ROUTER, 0x0800, ip("18.26.4.9", "18.26.7.3", udp(4000, 9, 1000), ident=i))
    elif k == 15:  # too big with Don't Fragment: ICMP needfrag
        f = eth(ROUTER, 0x0800, ip("18.26.4.9", "18.26.7.4", udp(4001, 9, 1000), df=True, ident=i))
    elif k == 16:  # bad IP checksum: dropped
        f = eth(ROUTER, 0x0800, ip("18.26.4.9", "18.26.7.5", udp(5000, 7, 16), ident=i, bad=True))
    elif k == 17:  # for the router itself
        f = eth(ROUTER, 0x0800, ip("18.26.4.9", "18.26.4.24", udp(6000, 7, 16), ident=i))
    elif k == 18:  # ARP for the router
        f = arp_query("18.26.4.24")
    else:          # ARP for a host behind eth1: proxy ARP answers
        f = arp_query("18.26.7.%d" % (2 + i % 50))
    frames.append(f)

with open("examples/router-trace.pcap", "wb") as out:
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, f in enumerate(frames):
        out.write(struct.pack("<IIII", 1700000000 + i // 1000, (i % 1000) * 1000, len(f), len(f)))
        out.write(f)
