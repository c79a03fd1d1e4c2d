// A NAT between two vifs, for the e2e's TCP-across-save/restore check. vif0 is
// the inside (10.7.0.0/24, this guest 10.7.0.1), vif1 the outside (10.7.1.0/24,
// this guest 10.7.1.1): flows from the inside leave from 10.7.1.1, their ports
// picked in turn from 1024. Neighbours' Ethernet addresses are fixed (the e2e
// sets them), so there is no ARP to ask, only to answer.
inside :: FromNetfront(0) -> in_cl :: Classifier(12/0800, 12/0806 20/0001, -);
outside :: FromNetfront(1) -> out_cl :: Classifier(12/0800, 12/0806 20/0001, -);
to_inside :: ToNetfront(0);
to_outside :: ToNetfront(1);

in_cl[1] -> ARPResponder(10.7.0.1 00:16:3e:0c:00:0a) -> to_inside;
out_cl[1] -> ARPResponder(10.7.1.1 00:16:3e:0c:00:0b) -> to_outside;
in_cl[2] -> Discard;
out_cl[2] -> Discard;

nat :: IPRewriter(pattern 10.7.1.1 1024-65535# - - 0 1, drop);
in_cl[0] -> Strip(14) -> CheckIPHeader -> [0]nat;
out_cl[0] -> Strip(14) -> CheckIPHeader -> [1]nat;
nat[0] -> out_count :: Counter -> EtherEncap(0x0800, 00:16:3e:0c:00:0b, 02:00:00:07:01:02) -> to_outside;
nat[1] -> in_count :: Counter -> EtherEncap(0x0800, 00:16:3e:0c:00:0a, 02:00:00:07:00:02) -> to_inside;
