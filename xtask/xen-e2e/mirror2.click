// The mirror with one more counter: what the hot-swap check installs.
FromNetfront(0) -> c :: Counter -> swapped :: Counter -> EtherMirror -> ToNetfront(0);
