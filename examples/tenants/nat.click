// Rewrite the source of UDP flows to this tenant's address, at most 4096 at once.
input -> rw :: UDPRewriter(pattern 10.0.0.3 1024-65535 - - 0 0, CAPACITY 4096)
      -> c :: Counter -> output;
