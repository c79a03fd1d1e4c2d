// A small pipeline that runs on the host with today's element library:
// a source feeds a queue through a tee; a rate-limited scheduler drains it.
//
//   oxclick examples/pipeline.click -h sent.count -h queue.drops -h out.count

define($PACKETS 1000);

elementclass Tap {
    $label |
    input -> t :: Tee;
    t [0] -> output;
    t [1] -> seen :: Counter -> Discard;
}

src :: InfiniteSource(DATA \<00 11 22 33 44 55  66 77 88 99 aa bb  08 00>, LIMIT $PACKETS, BURST 10, STOP true)
    -> sent :: Counter
    -> tap :: Tap(copy)
    -> queue :: Queue(200)
    -> Unqueue(BURST 4)
    -> out :: Counter
    -> Discard;
