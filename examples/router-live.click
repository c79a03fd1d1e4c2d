// A two-interface IP router on live Linux devices: ARP on both sides, a static
// routing table, TTL decrement. `tests/netns.rs` runs it between two network
// namespaces and pings across it. Parameters (set on the command line, e.g.
// `oxclick examples/router-live.click A_DEV=veth0 A_MAC=... ...`):
//   A_DEV, A_MAC, A_IP, A_NET — interface A: device, its Ethernet address,
//                               the router's address and the network behind it
//   B_DEV, B_MAC, B_IP, B_NET — the same for interface B

// ARP queries, ARP replies, IP, the rest.
ca :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
cb :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
FromDevice($A_DEV) -> ca;
FromDevice($B_DEV) -> cb;

out_a :: Queue(256) -> ToDevice($A_DEV);
out_b :: Queue(256) -> ToDevice($B_DEV);

arpq_a :: ARPQuerier($A_IP, $A_MAC) -> out_a;
arpq_b :: ARPQuerier($B_IP, $B_MAC) -> out_b;

ca[0] -> ARPResponder($A_IP $A_MAC) -> out_a;
cb[0] -> ARPResponder($B_IP $B_MAC) -> out_b;
ca[1] -> [1] arpq_a;
cb[1] -> [1] arpq_b;

rt :: StaticIPLookup($A_NET 0, $B_NET 1, $A_IP/32 2, $B_IP/32 2);
ca[2] -> Strip(14) -> CheckIPHeader -> GetIPAddress(16) -> rt;
cb[2] -> Strip(14) -> CheckIPHeader -> GetIPAddress(16) -> rt;

rt[0] -> DecIPTTL -> to_a :: Counter -> arpq_a;
rt[1] -> DecIPTTL -> to_b :: Counter -> arpq_b;
rt[2] -> for_me :: Counter -> Discard;

ca[3] -> Discard;
cb[3] -> Discard;
