// A Xen guest that sends every frame it receives back where it came from,
// counting them: the smallest middlebox. Build and boot it in dom0 with
//   oxclick boot examples/mirror.click
// and read the count with
//   oxclick ctl mirror read c.count
FromNetfront(0) -> c :: Counter -> EtherMirror -> ToNetfront(0);
