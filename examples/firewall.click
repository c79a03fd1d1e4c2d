// A two-interface firewall with per-direction accounting, written as compound
// elements so `oxclick flatten` shows how Click names their parts.
//
//   oxclick check examples/firewall.click
//   oxclick flatten examples/firewall.click
//   oxclick dot examples/firewall.click -o firewall.svg

define($LAN 10.0.0.0/8, $WEB_PORTS 80 443);

// One direction of traffic: strip Ethernet, check IP, count what passes.
elementclass Direction {
    $name |
    input -> Strip(14)
          -> CheckIPHeader
          -> passed :: Counter
          -> Unstrip(14)
          -> output;
}

// A firewall stage with its own drop counter on output 1.
elementclass Stage {
    $rule |
    input -> f :: Classifier($rule, -);
    f [0] -> output;
    f [1] -> dropped :: Counter -> [1] output;
}

lan_in :: Idle;
wan_in :: Idle;

lan_in -> out :: Direction(outbound)
       -> fw :: Stage(12/0800)
       -> wan_q :: Queue(256)
       -> Unqueue
       -> wan_out :: Discard;

wan_in -> back :: Direction(inbound)
       -> rfw :: Stage(12/0800)
       -> lan_q :: Queue(256)
       -> Unqueue
       -> lan_out :: Discard;

fw [1], rfw [1] -> Discard;
