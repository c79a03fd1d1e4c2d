// Click's IP router (the SOSP paper's, as in Click's conf/fake-iprouter.click) run
// over a bundled trace. The router joins 18.26.4/24 (eth0, 00:00:C0:AE:67:EF,
// 18.26.4.24) and 18.26.7/24 (eth1, 00:00:C0:4F:71:EF, 18.26.7.1), proxy-ARPs for
// 18.26.7 on eth0 and sends everything else to the gateway 18.26.4.1. The frames
// arriving on eth0 come from router-trace.pcap (made by make-router-trace.py);
// what leaves each interface is written as pcap files, readable with tcpdump.
// As in Click's fake router, the ARP queriers are stand-in EtherEncaps.
//
//   oxclick examples/ip-router.click [TRACE=...] [OUT0=...] [OUT1=...]

define($TRACE examples/router-trace.pcap, $OUT0 target/ip-router-eth0.pcap, $OUT1 target/ip-router-eth1.pcap);

// 0. ARP queries  1. ARP replies  2. IP  3. other
c0 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
c1 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);

FromDump($TRACE, STOP true) -> in0 :: Counter -> c0;
Idle -> c1;

out0 :: Queue(1024) -> Unqueue(BURST 32) -> sent0 :: Counter -> ToDump($OUT0);
out1 :: Queue(1024) -> Unqueue(BURST 32) -> sent1 :: Counter -> ToDump($OUT1);
tohost :: Counter -> Discard;

// Stand-ins for ARPQuerier(18.26.4.24, ...) and ARPQuerier(18.26.7.1, ...).
arpq0 :: EtherEncap(0x0800, 00:00:c0:ae:67:ef, 00:00:c0:00:04:01);
arpq1 :: EtherEncap(0x0800, 00:00:c0:4f:71:ef, 00:00:c0:00:07:02);
arpq0 -> out0;
arpq1 -> out1;

// ARP replies go to the host.
c0[1] -> tohost;
c1[1] -> tohost;

// Proxy ARP on eth0 for 18.26.7, and for the router's own address.
ar0 :: ARPResponder(18.26.4.24 00:00:C0:AE:67:EF, 18.26.7.0/24 00:00:C0:AE:67:EF);
c0[0] -> ar0 -> out0;
ar1 :: ARPResponder(18.26.7.1 00:00:C0:4F:71:EF);
c1[0] -> ar1 -> out1;

// 0: for this machine; 1: out eth0; 2: out eth1.
rt :: StaticIPLookup(18.26.4.24/32 0, 18.26.4.255/32 0, 18.26.4.0/32 0,
                     18.26.7.1/32 0, 18.26.7.255/32 0, 18.26.7.0/32 0,
                     18.26.4.0/24 1, 18.26.7.0/24 2, 0.0.0.0/0 18.26.4.1 1);

ip :: Strip(14) -> chk :: CheckIPHeader(INTERFACES 18.26.4.1/24 18.26.7.1/24) -> [0]rt;
c0[2] -> Paint(1) -> ip;
c1[2] -> Paint(2) -> ip;

rt[0] -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> tohost;

rt[1] -> DropBroadcasts -> cp1 :: PaintTee(1) -> gio1 :: IPGWOptions(18.26.4.24)
      -> FixIPSrc(18.26.4.24) -> dt1 :: DecIPTTL -> fr1 :: IPFragmenter(1500) -> arpq0;
rt[2] -> DropBroadcasts -> cp2 :: PaintTee(2) -> gio2 :: IPGWOptions(18.26.7.1)
      -> FixIPSrc(18.26.7.1) -> dt2 :: DecIPTTL -> fr2 :: IPFragmenter(576) -> arpq1;

// Errors go back through the routing table as ICMP messages.
dt1[1] -> icmp_ttl :: ICMPError(18.26.4.24, timeexceeded) -> [0]rt;
dt2[1] -> icmp_ttl2 :: ICMPError(18.26.4.24, timeexceeded) -> [0]rt;
fr1[1] -> ICMPError(18.26.4.24, unreachable, needfrag) -> [0]rt;
fr2[1] -> icmp_frag :: ICMPError(18.26.7.1, unreachable, needfrag) -> [0]rt;
gio1[1] -> ICMPError(18.26.4.24, parameterproblem) -> [0]rt;
gio2[1] -> ICMPError(18.26.4.24, parameterproblem) -> [0]rt;
cp1[1] -> ICMPError(18.26.4.24, redirect, host) -> [0]rt;
cp2[1] -> ICMPError(18.26.7.1, redirect, host) -> [0]rt;

c0[3] -> Discard;
c1[3] -> Discard;

// When the trace ends, say what happened.
DriverManager(wait_stop, wait 0.01,
  print "frames in on eth0:              $(in0.count)",
  print "bad IP headers dropped:         $(chk.drops)",
  print "TTL expired (ICMP sent back):   $(dt2.drops)",
  print "too big with DF (ICMP sent):    $(fr2.drops)",
  print "fragments made for eth1:        $(fr2.fragments)",
  print "to the router itself:           $(tohost.count)",
  print "frames out eth0 -> $OUT0: $(sent0.count)",
  print "frames out eth1 -> $OUT1: $(sent1.count)",
  stop);
