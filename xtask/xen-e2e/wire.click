// Two vifs joined: every frame from one goes out of the other.
FromNetfront(0) -> c0 :: Counter -> ToNetfront(1);
FromNetfront(1) -> c1 :: Counter -> ToNetfront(0);
