// nat-gateway.click: a firewalling NAT gateway between an inside network
// (10/8) and the outside world, built like Click's conf/mazu-nat.click and
// runnable with the same address plan (tests/nat_gateway.rs runs either).
//
//   inside hosts --[ in: 10.0.0.1 ]  GATEWAY  [ out: 209.6.198.213 ]-- next hop -- world
//
// - Inside hosts reach the world from the outside address (ports from 50000).
// - Active-mode FTP from inside works: FTPPortMapper rewrites PORT commands.
// - The world's web and SSH connections to the outside address are sent to
//   the inside server, from the inside address.
// - What is for the gateway itself goes to the host (ToHost, device tohost0);
//   everything else from the world is dropped. Only TCP and UDP are forwarded.
//
// Run it as root on a machine whose two ports have the Ethernet addresses
// below: `oxclick examples/nat-gateway.click` (FromDevice finds each device
// by the Ethernet address its name stands for).

AddressInfo(
    in          10.0.0.1        10.0.0.0/8      00:50:ba:85:84:a9,
    out         209.6.198.213   209.6.198.0/24  00:e0:98:09:ab:af,
    next_hop                                    02:00:0a:11:22:1f,
    web_server  10.0.0.10
);

// One port of the gateway: frames in at the top output, frames to send at
// the input (queued, so the device pulls them).
elementclass Port {
    $dev |
    from :: FromDevice($dev) -> output;
    input -> Queue(1024) -> to :: ToDevice($dev);
    ScheduleInfo(from .1, to 1);
}

inside :: Port(in:eth);
outside :: Port(out:eth);

to_host :: EtherEncap(0x0800, 1:1:1:1:1:1, in) -> ToHost;

// ARP: answer for our addresses, learn the inside hosts' (the next hop's is fixed).
outside -> out_kind :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
inside -> in_kind :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
out_kind[0] -> ARPResponder(out) -> outside;
out_kind[1] -> Discard;
out_kind[3] -> Discard;
in_kind[0] -> ARPResponder(in) -> inside;
in_arp :: ARPQuerier(in);
in_kind[1] -> [1] in_arp;
in_kind[3] -> Discard;

// The translations. Connections from inside take the outside address; web
// and SSH from anywhere go to the web server, from the inside address.
IPRewriterPatterns(
    world  out 50000-65535 - -,
    server in  50000-65535 web_server -
);
rw :: IPRewriter(
    pattern world 0 1,      // 0: inside -> world
    pattern server 1 0,     // 1: world -> web server
    pattern server 1 1,     // 2: inside -> web server (via the outside address)
    pass 0,                 // 3: inside, no mapping: on to the classifier below
    pass 2                  // 4: world, no mapping: only for the gateway
);
tcp_rw :: TCPRewriter(pattern world 0 1, drop);

// Leaving: to the world through the next hop, inside through ARP.
send_out :: GetIPAddress(16) -> CheckIPHeader -> EtherEncap(0x0800, out:eth, next_hop:eth) -> outside;
send_in :: GetIPAddress(16) -> CheckIPHeader -> [0] in_arp -> inside;

rw[0] -> for_gateway :: IPClassifier(dst host in, -);
for_gateway[0] -> to_host;
for_gateway[1] -> send_out;
rw[1] -> send_in;
rw[2] -> IPClassifier(dst host out) -> to_host;
tcp_rw[0] -> send_out;
tcp_rw[1] -> send_in;

// From the world: only what is addressed to us.
out_kind[2] -> Strip(14) -> CheckIPHeader -> to_us :: IPClassifier(dst host out, -);
to_us[1] -> Discard;
to_us[0] -> world_kind :: IPClassifier(dst tcp ssh or dst tcp www or dst tcp https,
                                       src tcp port ftp,
                                       tcp or udp,
                                       -);
world_kind[0] -> [1] rw;
world_kind[1] -> [1] tcp_rw;
world_kind[2] -> [4] rw;
world_kind[3] -> Discard;

// From inside.
in_kind[2] -> Strip(14) -> CheckIPHeader -> from_in :: IPClassifier(dst host in, dst net in, dst tcp port ftp, -);
from_in[0] -> local_kind :: IPClassifier(dst tcp ssh,
                                         dst tcp www or dst tcp https,
                                         src or dst port dns,
                                         dst tcp port auth,
                                         tcp or udp,
                                         -);
local_kind[0] -> to_host;               // SSH to the gateway
local_kind[1] -> [2] rw;               // the web, via the web server
local_kind[2] -> Discard;               // no DNS here
local_kind[3] -> to_host;
local_kind[4] -> [3] rw;               // maybe the web server's answers
local_kind[5] -> to_host;
from_in[1] -> to_host;                  // other traffic for net 10
from_in[2] -> FTPPortMapper(tcp_rw, rw, 0) -> [0] tcp_rw;
from_in[3] -> [0] rw;                  // to the world
