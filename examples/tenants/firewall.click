// Pass DNS queries on, drop the rest; count both.
input -> f :: IPFilter(allow udp dst port 53, deny all) -> c :: Counter -> output;
