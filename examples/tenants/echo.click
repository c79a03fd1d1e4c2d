// Send every packet back where it came from, counting them.
input -> c :: Counter -> IPMirror -> EtherMirror -> output;
