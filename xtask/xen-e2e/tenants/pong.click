// A tenant that answers pings to its addresses, counting the requests.
input -> c :: Counter -> ICMPPingResponder -> EtherMirror -> output;
