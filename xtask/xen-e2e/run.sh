#!/bin/sh
# The xen-e2e checks, run by dom0's init from the payload disk (/payload).
# Every result is one console line the harness collects:
#   xen-e2e: PASS name (details) | xen-e2e: FAIL name: why | xen-e2e: FIGURE name value
P=/payload
OX="$P/oxclick"
export OXCLICK_GUEST="$P/oxclick-guest"
WORK=/run/oxclick
mkdir -p "$WORK"
# A dom0 program that hangs (see below) must cost one check, not the whole run.
printf '#!/bin/sh\nexec timeout -k 5 300 %s/oxclick "$@"\n' "$P" >"$WORK/ox"
chmod +x "$WORK/ox"
OX="$WORK/ox"
# The harness's options (cargo xtask xen-e2e --flows N).
FLOWS=0
[ -f "$P/options.sh" ] && . "$P/options.sh"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Programs here (xl as much as oxclick) died now and then of heap corruption or
# a segfault inside libc or ld.so, under this emulated dom0 only; keeping glibc
# off AVX2 (GLIBC_TUNABLES) did not stop it; one dom0 vCPU made it rare (see
# xen_e2e.rs); two or three of our guests with vifs running at once brought it
# back, because each idle one spun at 100% of a CPU (fixed 2026-11-29; see
# xen_e2e.rs). The checks boot one of our guests at a time, retry what they can
# and say so.

pass() { echo "xen-e2e: PASS $*"; }
fail() { echo "xen-e2e: FAIL $*"; }
figure() { echo "xen-e2e: FIGURE $*"; }
ms() { date +%s%3N; }
# The milliseconds `oxclick boot`'s output file $1 says xl create took.
xl_create_ms() { sed -n 's/.*xl create took \([0-9]*\) ms.*/\1/p' "$1"; }
console_log() { cat "/var/log/xen/console/guest-$1.log" 2>/dev/null; }
# A number, or 0 (a failed command's message must not break the arithmetic).
num() { case "$1" in ''|*[!0-9]*) echo 0 ;; *) echo "$1" ;; esac; }
# Read handler HANDLER of guest DOMAIN through xenstore, asking every half
# second up to TRIES times until the guest answers (a restored or swapping guest
# takes a while). Prints the answer; fails if there was none.
ctl_read_waiting() {
    local i=0
    until "$OX" ctl "$1" read "$2" 2>/dev/null; do
        i=$((i + 1))
        [ $i -ge "$3" ] && return 1
        sleep 0.5
    done
}
# Zero the mirror's counter c, and make sure it is zero: a dom0 tool that
# crashed under this emulation must not turn into a wrong count later.
reset_count() {
    for _ in 1 2 3; do
        "$OX" ctl mirror write c.reset >"$WORK/reset.out" 2>&1
        [ "$("$OX" ctl mirror read c.count 2>&1)" = 0 ] && return 0
        echo "xen-e2e: c.reset did not take: $(tr '\n' ';' <"$WORK/reset.out")"
        sleep 1
    done
    return 1
}
# If domain $1 crashed (kept by --preserve-on-crash) or vanished, say so and show
# where: xenctx on a kept domain, and Xen's own dump of a triple fault.
post_mortem() {
    STATE=$(xl list "$1" 2>/dev/null | awk 'NR == 2 { print $5 }')
    case "$STATE" in
        *c*) ;;
        '') echo "xen-e2e: FAIL $1-vanished: the guest is gone"
            xl dmesg | grep -A 14 'Triple fault' | tail -n 15 | sed 's/^/xen-e2e: POSTMORTEM /'
            return ;;
        *) return ;;
    esac
    echo "xen-e2e: FAIL $1-crashed: the guest crashed; registers and stack follow"
    /usr/lib/xen-4.17/bin/xenctx -a -s "$P/oxclick-guest.map" "$(xl domid "$1")" 2>&1 | sed 's/^/xen-e2e: POSTMORTEM /'
    xl dmesg | grep "(d$(xl domid "$1"))" | tail -n 5 | sed 's/^/xen-e2e: POSTMORTEM /'
    xl destroy "$1"
}

bridge() {
    ip link add "$1" type bridge forward_delay 0 stp_state 0
    ip link set "$1" up
}

# No IPv6 chatter (neighbour discovery, MLD) on the bridges: guests count every frame.
for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do
    echo 1 >"$f" 2>/dev/null
done
echo "xen-e2e: $(xl info | grep -E '^xen_(major|minor|extra)' | tr -s ' ' | tr '\n' ' ')"
bridge xenbr0
ip addr add 192.0.2.1/24 dev xenbr0

GMAC=00:16:3e:0c:00:01
# To the guest, from a made-up dom0 address, an experimental ethertype.
FRAME=00163e0c000102000000000188b5$(printf "%092d" 0)
MIRRORED="6/00163e0c0001"

# Count the frames that come back from the mirror guest for $1 seconds (the
# count is the last line of file $2), in the background: `wait $CAP` for it.
start_capture() {
    "$OX" -e "FromDevice(xenbr0, PROMISC true) -> cl :: Classifier($MIRRORED, -) -> c :: Counter -> Discard; cl[1] -> Discard; Script(wait $1, stop)" -h c.count >"$2" 2>&1 &
    CAP=$!
    sleep 0.5
}

# Send $2 frames to the mirror guest at $1 per second. Prints how many dom0
# could not send: a full device queue refuses frames (the socket does not block).
send_frames() {
    num "$("$OX" -e "RatedSource(DATA \\<$FRAME>, RATE $1, LIMIT $2, STOP true) -> td :: ToDevice(xenbr0)" -h td.drops 2>/dev/null | tail -n 1)"
}

# --- 1. Boot the mirror guest, its configuration installed through xenstore in
# ClickOS's layout (oxclick boot without --embed); time xl create -> configuration
# installed -> first frame mirrored back. A prober sends a frame every 10 ms from
# before xl create and stops at the first one that comes back from the guest.
PROBE="RatedSource(DATA \\<$FRAME>, RATE 100, LIMIT 100000) -> ToDevice(xenbr0);
FromDevice(xenbr0, PROMISC true) -> cl :: Classifier($MIRRORED, -) -> Print(back, TIMESTAMP true, CONTENTS false) -> Counter(COUNT_CALL 1 stop) -> Discard; cl[1] -> Discard;
Script(wait 120, stop)"
timeout 130 "$OX" -e "$PROBE" >"$WORK/probe.out" 2>&1 &
PROBE_PID=$!
sleep 0.3
T0=$(ms)
if "$OX" boot "$P/mirror.click" --name mirror --memory 8 --vif "bridge=xenbr0,mac=$GMAC" --preserve-on-crash --dir "$WORK" >"$WORK/boot.out" 2>&1; then
    T1=$(ms)
    wait $PROBE_PID
    # When the frame came back, from its capture timestamp ("back: SECONDS.MICROS: ..."),
    # not from when the prober's process had exited and the shell looked.
    T2=$(sed -n 's/^back: \([0-9]*\)\.\([0-9][0-9][0-9]\).*/\1\2/p' "$WORK/probe.out" | head -n 1)
    [ -n "$T2" ] || T2=$(ms)
    pass "boot-mirror ($(tr '\n' ';' <"$WORK/boot.out"))"
    CREATE=$(xl_create_ms "$WORK/boot.out")
    figure oxclick_xl_create_ms "$CREATE"
    figure oxclick_create_to_router_running_ms $((T1 - T0))
    figure oxclick_create_to_first_packet_ms $((T2 - T0))
    figure oxclick_guest_phase_ms "$((T2 - T0 - $(num "$CREATE"))) (xl create returned -> first frame mirrored back)"
else
    fail "boot-mirror: $(tr '\n' ';' <"$WORK/boot.out")"
    kill $PROBE_PID 2>/dev/null
    console_log mirror
fi

# --- 2. N frames in, N mirrored back, and the guest's counter says N (read through xenstore).
N=1000
mirror_n() {
    reset_count
    start_capture 12 "$WORK/cap.out"
    S0=$(ms)
    UNSENT=$(send_frames 1000 $N)
    S1=$(ms)
    wait $CAP
    BACK=$(tail -n 1 "$WORK/cap.out")
    COUNT=$("$OX" ctl mirror read c.count 2>&1)
}
mirror_n
FIRST_TRY=""
if [ "$BACK" != "$N" ] || [ "$COUNT" != "$N" ]; then
    # dom0's bridge has now and then forwarded almost none of a burst to the vif
    # (the vif's TX counter shows they never left dom0). Say so, and try once more.
    FIRST_TRY="; first try: $BACK of $N came back, c.count $COUNT, vif TX $(ip -s link show dev "vif$(xl domid mirror 2>/dev/null).0" 2>&1 | awk '/TX:/ { getline; print $2 }') packets"
    mirror_n
fi
post_mortem mirror
if [ "$BACK" = "$N" ] && [ "$COUNT" = "$N" ]; then
    pass "mirror-$N (all $N frames came back; c.count read through xenstore: $COUNT$FIRST_TRY)"
else
    # Where frames went missing: dom0's sender, netback (the vif's TX is toward the guest), or the capture.
    VIF="vif$(xl domid mirror 2>/dev/null).0"
    fail "mirror-$N: $BACK of $N frames came back, c.count = $COUNT; dom0 could not send $UNSENT; $VIF: $(ip -s link show dev "$VIF" 2>&1 | tr -s ' \n' ' ')"
fi
figure mirror_offered_pps $((N * 1000 / (S1 - S0 + 1)))

# --- 3. Throughput: offered rates from dom0, what the guest counts and mirrors back.
for RATE in 2000 5000 10000; do
    M=$((RATE * 3))
    reset_count
    start_capture 6 "$WORK/cap2.out"
    S0=$(ms)
    DROPPED=$(send_frames $RATE $M)
    S1=$(ms)
    wait $CAP
    BACK=$(tail -n 1 "$WORK/cap2.out")
    GOT=$(num "$("$OX" ctl mirror read c.count 2>&1)")
    BACK=$(num "$BACK")
    post_mortem mirror
    figure "mirror_at_${RATE}pps offered $M in $((S1 - S0)) ms, dom0 could not send $DROPPED; the guest counted $GOT ($((GOT * 1000 / (S1 - S0 + 1))) per s); $BACK came back"
done

# --- 4. Hot swap: a new configuration through xenstore; the guest keeps mirroring.
if "$OX" ctl mirror config "$P/mirror2.click" >"$WORK/swap.out" 2>&1; then
    start_capture 6 "$WORK/cap3.out"
    send_frames 500 100 >/dev/null
    wait $CAP
    BACK=$(tail -n 1 "$WORK/cap3.out")
    SWAPPED=$("$OX" ctl mirror read swapped.count 2>&1)
    post_mortem mirror
    if [ "$SWAPPED" = "100" ] && [ "$BACK" = "100" ]; then
        pass "hot-swap (new configuration counted 100, all 100 mirrored)"
    else
        fail "hot-swap: new counter says $SWAPPED, $BACK of 100 came back"
    fi
else
    fail "hot-swap: $(tr '\n' ';' <"$WORK/swap.out")"
fi

# --- 4b. Suspend and resume: xl save, xl restore; the restored guest goes on
# with its routers' state (c.count keeps counting) and forwards again.
reset_count
send_frames 500 50 >/dev/null
sleep 1
BEFORE=$("$OX" ctl mirror read c.count 2>&1)
S0=$(ms)
if timeout 180 xl save mirror "$WORK/mirror.save" >"$WORK/save.out" 2>&1; then
    S1=$(ms)
    if timeout 180 xl restore "$WORK/mirror.save" >>"$WORK/save.out" 2>&1; then
        S2=$(ms)
        # Until the restored guest answers through xenstore again.
        AFTER=$(ctl_read_waiting mirror c.count 60)
        S3=$(ms)
        start_capture 6 "$WORK/cap4.out"
        send_frames 500 50 >/dev/null
        wait $CAP
        BACK=$(tail -n 1 "$WORK/cap4.out")
        AFTER2=$("$OX" ctl mirror read c.count 2>&1)
        post_mortem mirror
        figure oxclick_save_ms $((S1 - S0))
        figure oxclick_restore_ms "$((S2 - S1)) (then $((S3 - S2)) ms until it answered through xenstore)"
        # What matters is that the count survives: it need not start at 0.
        BEFORE=$(num "$BEFORE")
        if [ "$BEFORE" -ge 50 ] && [ "$AFTER" = "$BEFORE" ] && [ "$AFTER2" = $((BEFORE + 50)) ] && [ "$BACK" = 50 ]; then
            pass "save-restore (c.count $BEFORE before xl save, $AFTER after xl restore, $AFTER2 after 50 more, all 50 mirrored back)"
        else
            fail "save-restore: c.count $BEFORE before, $AFTER after restore, $AFTER2 after 50 more; $BACK of 50 came back; $(console_log mirror | tail -n 6 | tr '\n' ';')"
        fi
    else
        fail "save-restore: xl restore: $(tr '\n' ';' <"$WORK/save.out")"
    fi
else
    fail "save-restore: xl save: $(tr '\n' ';' <"$WORK/save.out") $(console_log mirror | tail -n 4 | tr '\n' ';')"
fi
rm -f "$WORK/mirror.save"

# --- 4c. A checkpoint (xl save -c): the save completes and the toolstack
# resumes the same domain, as it does after a failed save. The guest must go on
# as it was (not reconnect as if restored), counting and mirroring.
BEFORE=$(num "$("$OX" ctl mirror read c.count 2>&1)")
DOMID=$(xl domid mirror 2>/dev/null)
if timeout 180 xl save -c mirror "$WORK/mirror.ckpt" >"$WORK/ckpt.out" 2>&1; then
    AFTER=$(ctl_read_waiting mirror c.count 60)
    start_capture 6 "$WORK/cap5.out"
    send_frames 500 50 >/dev/null
    wait $CAP
    BACK=$(tail -n 1 "$WORK/cap5.out")
    AFTER2=$("$OX" ctl mirror read c.count 2>&1)
    SAID=$(console_log mirror | grep -o 'suspend cancelled.*' | tail -n 1)
    post_mortem mirror
    if [ "$(xl domid mirror 2>/dev/null)" = "$DOMID" ] && [ "$AFTER" = "$BEFORE" ] && [ "$AFTER2" = $((BEFORE + 50)) ] \
        && [ "$BACK" = 50 ] && [ -n "$SAID" ]; then
        pass "save-checkpoint (xl save -c: still domain $DOMID, c.count $AFTER then $AFTER2, all 50 mirrored back; the guest: $SAID)"
    else
        fail "save-checkpoint: domain $DOMID -> $(xl domid mirror 2>&1); c.count $BEFORE, $AFTER after, $AFTER2 after 50 more; $BACK of 50 came back; $(console_log mirror | tail -n 4 | tr '\n' ';')"
    fi
else
    fail "save-checkpoint: xl save -c: $(tr '\n' ';' <"$WORK/ckpt.out") $(console_log mirror | tail -n 4 | tr '\n' ';')"
fi
rm -f "$WORK/mirror.ckpt"

# --- 5. Handler errors come back as errors.
if OUT=$("$OX" ctl mirror read nosuch.count 2>&1); then
    fail "ctl-errors: reading nosuch.count succeeded: $OUT"
elif echo "$OUT" | grep -q "no element named 'nosuch'"; then
    pass "ctl-errors ($OUT)"
else
    fail "ctl-errors: the error is not the guest's: $OUT"
fi

# --- 6. Clean shutdown.
if xl shutdown -w mirror >/dev/null 2>&1 && console_log mirror | grep -q "oxclick: shutdown (poweroff)"; then
    pass "shutdown (xl shutdown -w; the guest logged its clean exit; $(console_log mirror | grep -o 'vif0: rx.*' | tail -n 1))"
else
    fail "shutdown: $(console_log mirror | tail -n 5 | tr '\n' ';')"
    xl destroy mirror 2>/dev/null
fi

# --- 7. Two vifs: a guest wiring two bridges; ping from one namespace to the other crosses it.
bridge xenbr1
bridge xenbr2
for n in 1 2; do
    ip netns add "ns$n"
    ip link add "v$n" type veth peer name "v${n}p"
    ip link set "v${n}p" netns "ns$n"
    ip link set "v$n" master "xenbr$n" up
    ip -n "ns$n" addr add "10.9.0.$n/24" dev "v${n}p"
    ip -n "ns$n" link set "v${n}p" up
done
if "$OX" boot "$P/wire.click" --name wire --memory 8 --vif bridge=xenbr1 --vif bridge=xenbr2 --embed --preserve-on-crash --dir "$WORK" >"$WORK/wire.out" 2>&1; then
    PING=$(ip netns exec ns1 busybox ping -c 5 -W 3 10.9.0.2 2>&1 | grep -E 'packets transmitted|round-trip')
    C0=$("$OX" ctl wire read c0.count 2>&1)
    post_mortem wire
    if echo "$PING" | grep -q ' 0% packet loss'; then
        pass "two-vif-ping ($(echo "$PING" | tr '\n' ';') guest forwarded $C0 frames vif0->vif1)"
    else
        fail "two-vif-ping: $PING; c0.count = $C0; $(console_log wire | tail -n 5 | tr '\n' ';')"
    fi
    xl shutdown -w wire >/dev/null 2>&1 || xl destroy wire
else
    fail "two-vif-boot: $(tr '\n' ';' <"$WORK/wire.out") $(console_log wire | tail -n 5 | tr '\n' ';')"
    xl destroy wire >/dev/null 2>&1
fi

# --- 7b. Consolidation: two tenants in one guest behind the demux, each answering
# pings to its own address on its own counters; then a third tenant swapped into
# the running guest while the others keep their counts.
TMAC=00:16:3e:0c:00:05
pings() { busybox ping -c "$2" -W 10 "$1" 2>&1 | grep -o '[0-9]* packets received' | grep -o '^[0-9]*'; }
if "$OX" consolidate "$P/tenants/tenants.toml" -q -o "$WORK/tenants.click" >"$WORK/tenants.out" 2>&1 \
    && "$OX" boot "$WORK/tenants.click" --name tenants --memory 8 --vif "bridge=xenbr0,mac=$TMAC" --preserve-on-crash --dir "$WORK" >>"$WORK/tenants.out" 2>&1; then
    GOT_A=$(num "$(pings 192.0.2.10 3)")
    GOT_B=$(num "$(pings 192.0.2.11 2)")
    GOT_X=$(num "$(pings 192.0.2.12 1)")
    A=$("$OX" ctl tenants read alice/c.count 2>&1)
    B=$("$OX" ctl tenants read bob/c.count 2>&1)
    AOUT=$("$OX" ctl tenants read alice.out_packets 2>&1)
    post_mortem tenants
    if [ "$GOT_A" = 3 ] && [ "$GOT_B" = 2 ] && [ "$GOT_X" = 0 ] && [ "$A" = 3 ] && [ "$B" = 2 ] && [ "$AOUT" = 3 ]; then
        pass "tenants (alice answered 3 of 3 pings, bob 2 of 2, nobody's address none; alice/c.count $A, bob/c.count $B, alice.out_packets $AOUT through xenstore)"
    else
        fail "tenants: replies alice $GOT_A/3 bob $GOT_B/2 nobody $GOT_X/0; alice/c.count $A, bob/c.count $B, alice.out_packets $AOUT"
    fi
    if "$OX" consolidate "$P/tenants/tenants2.toml" -q -o "$WORK/tenants2.click" >"$WORK/tenants2.out" 2>&1 \
        && "$OX" ctl tenants config "$WORK/tenants2.click" >>"$WORK/tenants2.out" 2>&1; then
        # The guest swaps the new configuration in when it sees it: wait until
        # carol's guard answers, and forget dom0's failed ARP for her address.
        ctl_read_waiting tenants carol.in_packets 60 >/dev/null
        ip neigh flush to 192.0.2.12 2>/dev/null
        GOT_C=$(num "$(pings 192.0.2.12 2)")
        A=$("$OX" ctl tenants read alice/c.count 2>&1)
        C=$("$OX" ctl tenants read carol/c.count 2>&1)
        post_mortem tenants
        if [ "$GOT_C" = 2 ] && [ "$C" = 2 ] && [ "$A" = 3 ]; then
            pass "tenant-added (carol swapped into the running guest answered 2 of 2 pings; alice/c.count still $A)"
        else
            fail "tenant-added: carol answered $GOT_C/2, carol/c.count $C, alice/c.count $A (want 3)"
        fi
    else
        fail "tenant-added: $(tr '\n' ';' <"$WORK/tenants2.out")"
    fi
    xl shutdown -w tenants >/dev/null 2>&1 || xl destroy tenants
else
    fail "tenants: $(tr '\n' ';' <"$WORK/tenants.out")"
fi

# --- 7c. The platform daemon with the xl backend: a ping to a tenant with no
# guest boots one and is answered; the idle guest is suspended (xl save) and the
# next ping resumes it with its counter intact; a destroyed guest is restarted.
PL="$WORK/platform"
mkdir -p "$PL"
cat >"$PL/pong.click" <<'CLICK'
// Answers pings; the queue makes it stateful, so idle means suspended, not stopped.
input -> c :: Counter -> ICMPPingResponder -> EtherMirror -> Queue(64) -> Unqueue -> output;
CLICK
cat >"$PL/tenants.toml" <<'TOML'
[[tenant]]
name = "pt1"
addresses = ["10.75.0.10"]
config = "pong.click"
trust = "client"
TOML
ip netns add pns && ip link add pup0 type veth peer name pup1 && ip link set pup1 netns pns
ip -n pns addr add 10.75.0.1/24 dev pup1 && ip -n pns link set pup1 up && ip link set pup0 up
# A wedged daemon must not stall the run: the status request gets 20 s.
pstatus() { timeout 20 "$P/oxclick" platform --state "$PL/state" status 2>&1 | awk -v t=pt1 '$1 == t'; }
# Whether clock milliseconds have passed deadline $1.
past() { [ "$(ms)" -gt "$1" ]; }
pping() { ip netns exec pns busybox ping -c "$1" -W "$2" 10.75.0.10 2>&1; }
timeout -k 5 900 "$P/oxclick" platform run --uplink pup0 --backend xl --idle 8 --starts 2 --state "$PL/state" >"$PL/daemon.log" 2>&1 &
PLATFORM_PID=$!
# The daemon's log as it is written, into the run's log (not a result line).
tail -F "$PL/daemon.log" 2>/dev/null | sed -u 's/^/platform daemon: /' &
DAEMON_TAIL=$!
# What dom0's tools are doing, when a wait drags on.
tools_now() { ps -eo pid,rss,etime,args | grep -E 'xl|oxclick|libxl' | grep -v grep | sed 's/^/dom0 tools: /'; }
sleep 1
if "$OX" platform --state "$PL/state" add-tenant "$PL/tenants.toml" >"$PL/add.out" 2>&1; then
    P0=$(ms)
    FIRST=$(pping 1 90)
    P1=$(ms)
    LATER=$(pping 3 10)
    ROW1=$(pstatus)
    if echo "$FIRST" | grep -q ' 1 packets received' && echo "$LATER" | grep -q ' 3 packets received'; then
        pass "platform-first-packet (a ping to pt1 with no guest booted one and was answered; $(echo "$LATER" | grep round-trip); status: $ROW1)"
        figure platform_first_packet_ms "$((P1 - P0)) (ping -> guest booted by the daemon -> reply)"
        figure platform_later_packets "$(echo "$LATER" | grep -o 'min/avg/max = .*')"
    else
        fail "platform-first-packet: $(echo "$FIRST" | tr '\n' ';') $(echo "$LATER" | tr '\n' ';') status: $ROW1; $(tail -n 5 "$PL/daemon.log" | tr '\n' ';')"
    fi
    # Idle after 8 s; a save that fails (xl crashes here now and then) is
    # tried again an idle period later, so allow a few.
    i=0
    UNTIL=$(($(ms) + 300000))
    SUSPENDED=no
    until past $UNTIL; do
        pstatus | grep -q ' suspended ' && SUSPENDED=yes && break
        i=$((i + 1))
        [ $((i % 20)) = 0 ] && tools_now
        sleep 0.5
    done
    S0=$(ms)
    AGAIN=$(pping 1 90)
    S1=$(ms)
    COUNT=$("$OX" ctl pt1 read pt1/c.count 2>&1)
    ROW2=$(pstatus)
    RESUMES=$(echo "$ROW2" | awk '{ print $8 }')
    if [ $SUSPENDED = yes ] && echo "$AGAIN" | grep -q ' 1 packets received' && [ "$COUNT" = 5 ] && [ "$RESUMES" = 1 ]; then
        pass "platform-suspend-resume (idle pt1 was suspended with xl save; the next ping resumed it and was answered; pt1/c.count $COUNT; status: $ROW2)"
        figure platform_resume_first_packet_ms "$((S1 - S0)) (ping -> suspended guest restored -> reply)"
    else
        fail "platform-suspend-resume: suspended: $SUSPENDED (after $i polls); $(echo "$AGAIN" | tr '\n' ';') pt1/c.count $COUNT (want 5), $RESUMES resumes (want 1); status: $ROW2"
    fi
    timeout 60 xl destroy pt1 2>/dev/null
    UNTIL=$(($(ms) + 180000))
    until past $UNTIL || pstatus | awk '{ exit !($9 >= 1) }'; do
        sleep 0.5
    done
    BACK=$(pping 2 90)
    ROW3=$(pstatus)
    if echo "$BACK" | grep -q ' 2 packets received' && echo "$ROW3" | awk '{ exit !($9 >= 1) }'; then
        pass "platform-restart (xl destroy of pt1's guest was noticed and it was booted again; status: $ROW3)"
    else
        fail "platform-restart: $(echo "$BACK" | tr '\n' ';') status: $ROW3; $(tail -n 5 "$PL/daemon.log" | tr '\n' ';')"
    fi
    timeout 30 "$P/oxclick" platform --state "$PL/state" stop >/dev/null 2>&1

else
    fail "platform: add-tenant: $(tr '\n' ';' <"$PL/add.out")"
fi
kill $PLATFORM_PID $DAEMON_TAIL 2>/dev/null
wait $PLATFORM_PID 2>/dev/null
xl destroy pt1 2>/dev/null
ip netns del pns 2>/dev/null
ip link del pup0 2>/dev/null

# --- 7d. A TCP connection through a NAT guest survives xl save + xl restore and
# then xl migrate to this same host: the guest's IPRewriter keeps its mappings.
# A first flow takes port 1024, so a NAT that lost its table would give the
# connection's next segment 1024 rather than 1025 and the server would refuse it.
bridge xenbr3
bridge xenbr4
nat_ns() { # namespace bridge address mac
    ip netns add "$1"
    ip link add "$1h" type veth peer name "$1p"
    ip link set "$1p" netns "$1"
    ip link set "$1h" master "$2" up
    ip -n "$1" link set "$1p" address "$4"
    ip -n "$1" addr add "$3/24" dev "$1p"
    ip -n "$1" link set "$1p" up
}
nat_ns nin xenbr3 10.7.0.2 02:00:00:07:00:02
nat_ns nout xenbr4 10.7.1.2 02:00:00:07:01:02
ip -n nin route add default via 10.7.0.1
# Wait until the NAT guest answers through xenstore again; the table it reads.
nat_table() {
    ctl_read_waiting nat nat.table 120 | grep '=>' | sort
}
# Wait until line $1 reached the server.
nat_got() {
    i=0
    until grep -qx "$1" "$WORK/nat-server.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 60 ] && return 1
        sleep 0.5
    done
}
if "$OX" boot "$P/nat.click" --name nat --memory 8 --vif "bridge=xenbr3,mac=00:16:3e:0c:00:0a" \
    --vif "bridge=xenbr4,mac=00:16:3e:0c:00:0b" --embed --preserve-on-crash --dir "$WORK" >"$WORK/nat.out" 2>&1; then
    # The server's input stays open (fd 4), or busybox nc would close the connection.
    mkfifo "$WORK/nat-srv.fifo" "$WORK/nat-cli.fifo"
    ip netns exec nout busybox nc -l -p 7000 <"$WORK/nat-srv.fifo" >"$WORK/nat-server.out" 2>&1 &
    exec 4>"$WORK/nat-srv.fifo"
    sleep 0.5
    ip netns exec nin busybox nc -w 5 10.7.1.2 7001 </dev/null >/dev/null 2>&1
    ip netns exec nin busybox nc 10.7.1.2 7000 <"$WORK/nat-cli.fifo" >/dev/null 2>&1 &
    exec 3>"$WORK/nat-cli.fifo"
    echo before >&3
    nat_got before
    T0=$(nat_table)
    M0=$(ms)
    timeout 180 xl save nat "$WORK/nat.save" >"$WORK/nat-save.out" 2>&1 \
        && timeout 180 xl restore "$WORK/nat.save" >>"$WORK/nat-save.out" 2>&1
    T1=$(nat_table)
    echo after-restore >&3
    nat_got after-restore && RESTORED=yes
    M1=$(ms)
    timeout 300 xl migrate -s "" nat "xl migrate-receive" >"$WORK/nat-migrate.out" 2>&1 && MIGRATED=yes
    M2=$(ms)
    T2=$(nat_table)
    echo after-migrate >&3
    nat_got after-migrate && MOVED=yes
    exec 3>&- 4>&-
    post_mortem nat
    SERVER=$(tr '\n' ' ' <"$WORK/nat-server.out")
    ONE=$(echo "$T0" | tr '\n' ';')
    if [ -n "$RESTORED" ] && [ "$T0" = "$T1" ] && echo "$T0" | grep -q '1025, 10.7.1.2, 7000'; then
        pass "nat-tcp-save-restore (one TCP connection through the NAT guest carried a line before xl save and one after xl restore; its mappings before and after: $ONE)"
        figure nat_save_restore_ms "$((M1 - M0)) (xl save + xl restore + the next line through)"
    else
        fail "nat-tcp-save-restore: the server got: $SERVER; mappings before: $ONE after: $(echo "$T1" | tr '\n' ';') $(tr '\n' ';' <"$WORK/nat-save.out")"
    fi
    if [ -n "$MIGRATED" ] && [ -n "$MOVED" ] && [ "$T0" = "$T2" ]; then
        pass "nat-tcp-migrate (xl migrate to this host; the same connection carried a line after it; mappings unchanged)"
        figure nat_migrate_ms "$((M2 - M1)) (xl migrate to localhost)"
    elif [ -z "$MIGRATED" ]; then
        fail "nat-tcp-migrate: xl migrate to localhost failed: $(tail -n 6 "$WORK/nat-migrate.out" | tr '\n' ';')"
    else
        fail "nat-tcp-migrate: the server got: $SERVER; mappings after: $(echo "$T2" | tr '\n' ';')"
    fi
    xl destroy nat 2>/dev/null
else
    fail "nat-boot: $(tr '\n' ';' <"$WORK/nat.out")"
fi
rm -f "$WORK/nat.save"
ip netns del nin 2>/dev/null
ip netns del nout 2>/dev/null

# --- 8. The smallest memory the mirror guest runs in.
SMALLEST=none
for mem in 2 3 4 6 8; do
    if "$OX" boot "$P/mirror.click" --name small --memory $mem --vif "bridge=xenbr0,mac=00:16:3e:0c:00:02" --embed --dir "$WORK" --timeout 60 >/dev/null 2>&1; then
        SMALLEST=$mem
        xl destroy small 2>/dev/null
        break
    fi
    xl destroy small 2>/dev/null
done
figure smallest_memory_mb $SMALLEST

# --- 8b. The toolstack's share: the same kind of guest booted with Xen's own
# vif-bridge hotplug script (oxclick boot --stock-hotplug) instead of oxclick's.
echo "FromNetfront(0) -> c :: Counter -> Discard;" >"$WORK/sink.click"
if "$OX" boot "$WORK/sink.click" --name stock --stock-hotplug --vif "bridge=xenbr0,mac=00:16:3e:0c:00:03" --dir "$WORK" >"$WORK/stock.out" 2>&1; then
    figure oxclick_stock_hotplug_xl_create_ms "$(xl_create_ms "$WORK/stock.out")"
    figure oxclick_stock_hotplug_create_to_router_running_ms "$(sed -n 's/.*router running \([0-9]*\) ms.*/\1/p' "$WORK/stock.out")"
else
    figure oxclick_stock_hotplug_xl_create_ms "failed: $(tr '\n' ';' <"$WORK/stock.out")"
fi
xl destroy stock 2>/dev/null
# And with no vif at all: the toolstack's floor for any guest.
echo "Idle -> Discard;" >"$WORK/idle.click"
if "$OX" boot "$WORK/idle.click" --name novif --no-vif --dir "$WORK" >"$WORK/novif.out" 2>&1; then
    figure oxclick_no_vif_xl_create_ms "$(xl_create_ms "$WORK/novif.out")"
else
    figure oxclick_no_vif_xl_create_ms "failed: $(tr '\n' ';' <"$WORK/novif.out")"
fi
xl destroy novif 2>/dev/null

# --- 9. Baseline: a Linux PVH domU booted the same way; xl create -> first ping answered.
KERNEL=$(ls /boot/vmlinuz-* | head -n 1)
cat >"$WORK/linux.cfg" <<CFG
name = "linux"
type = "pvh"
kernel = "$KERNEL"
ramdisk = "$P/linux-initrd.cpio.gz"
extra = "console=hvc0 rdinit=/init quiet"
memory = 128
vcpus = 1
vif = ["bridge=xenbr0,mac=00:16:3e:0c:00:09"]
on_poweroff = "destroy"
on_crash = "destroy"
on_reboot = "destroy"
# Without AVX: under this emulation the domain's AVX state is sometimes lost,
# and the initramfs's init, whose C library picks AVX2 string routines, then
# died of an invalid opcode (SIGILL) about 5 s into boot, in most runs. The
# oxclick guest uses no AVX. Boot time does not depend on it.
cpuid = "host,avx=0,avx2=0"
CFG
# The same domain with oxclick's lean vif hotplug script (oxclick boot wrote it
# into $WORK): the toolstack's share of boot and resume, apart from the guest's.
sed 's|mac=00:16:3e:0c:00:09|&,script='"$WORK"'/oxclick-vif-bridge|' "$WORK/linux.cfg" >"$WORK/linux-lean.cfg"
# Boot config $1 and time it; 0 when it answered, 1 when it did not, 2 when the
# domain died on the way (Linux too has triple-faulted early in boot under this emulation).
linux_boot() {
    xl destroy linux 2>/dev/null
    L0=$(ms)
    # xl itself sometimes crashes under emulation; one more try if no domain came of it.
    timeout 180 xl create "$1" >"$WORK/linux.out" 2>&1 || xl domid linux >/dev/null 2>&1 \
        || timeout 180 xl create "$1" >>"$WORK/linux.out" 2>&1 || return 1
    L1=$(ms)
    i=0
    until busybox ping -c 1 -W 1 192.0.2.3 >/dev/null 2>&1; do
        i=$((i + 1))
        xl domid linux >/dev/null 2>&1 || return 2
        [ $i -gt 300 ] && return 1
    done
    L2=$(ms)
    return 0
}
# Boot, time, save and restore the Linux domain of config $1; figures named linux$2_*.
linux_round() {
    linux_boot "$1"
    LINUX=$?
    # Under TCG the stock kernel sometimes dies early in boot (a triple fault
    # probing PCI, or a panic about 5 s in); boot it up to three times, and say
    # each time what its console said last.
    for again in 1 2; do
        [ $LINUX = 2 ] || break
        echo "xen-e2e: the Linux baseline domain died during boot: $(xl dmesg | grep -m 1 'Triple fault') $(console_log linux | tail -n 30 | tr '\n' ';'); booting it again ($again of 2)"
        linux_boot "$1"
        LINUX=$?
    done
    if [ $LINUX = 0 ]; then
        pass "linux-baseline$2 (answered ping)"
        figure "linux$2_xl_create_ms" $((L1 - L0))
        figure "linux$2_create_to_first_packet_ms" $((L2 - L0))
        figure "linux$2_guest_phase_ms" "$((L2 - L1)) (xl create returned -> first ping answered)"
        # The same suspend and resume as the oxclick guest's, for comparison.
        R0=$(ms)
        if timeout 180 xl save linux "$WORK/linux.save" >"$WORK/linux-save.out" 2>&1; then
            R1=$(ms)
            if timeout 180 xl restore "$WORK/linux.save" >>"$WORK/linux-save.out" 2>&1; then
                R2=$(ms)
                i=0
                until busybox ping -c 1 -W 1 192.0.2.3 >/dev/null 2>&1; do
                    i=$((i + 1))
                    [ $i -gt 60 ] && break
                done
                R3=$(ms)
                figure "linux$2_save_ms" $((R1 - R0))
                figure "linux$2_restore_ms" "$((R2 - R1)) (then $((R3 - R2)) ms until it answered ping)"
            else
                figure "linux$2_restore_ms" "failed: $(tr '\n' ';' <"$WORK/linux-save.out")"
            fi
        else
            figure "linux$2_save_ms" "failed: $(tr '\n' ';' <"$WORK/linux-save.out")"
        fi
        rm -f "$WORK/linux.save"
    else
        fail "linux-baseline$2: no ping answer; $(cat "$WORK/linux.out" | tr '\n' ';') $(console_log linux | tail -n 30 | tr '\n' ';')"
    fi
    xl destroy linux 2>/dev/null
}
# Xen's own vif-bridge, as an administrator boots Linux; then the lean script.
linux_round "$WORK/linux.cfg" ""
linux_round "$WORK/linux-lean.cfg" "_lean_hotplug"
xl destroy linux 2>/dev/null

# --- 10. With --flows N only, and last: N new flows at once through the
# platform daemon, then one guest's suspend and resume beside the others. Until
# idle guests stopped spinning (2026-11-29), dom0's programs crashed here and
# dom0 wedged; it stays last, where a wedge cannot cost the other checks.
if [ "$FLOWS" -gt 0 ]; then
PL="$WORK/platform2"
mkdir -p "$PL"
cp "$WORK/platform/pong.click" "$PL/pong.click"
ip netns add pns && ip link add pup0 type veth peer name pup1 && ip link set pup1 netns pns
ip -n pns addr add 10.75.0.1/24 dev pup1 && ip -n pns link set pup1 up && ip link set pup0 up
# One boot at a time, the gentlest load on dom0's toolstack (two xl creates at
# once crashed it within the first boots; one at a time did too, see above), so
# the figure, when the machine gives one, includes the daemon's queueing.
timeout -k 5 1800 "$P/oxclick" platform run --uplink pup0 --backend xl --idle 1200 --starts 1 --state "$PL/state" >"$PL/daemon.log" 2>&1 &
PLATFORM_PID=$!
tail -F "$PL/daemon.log" 2>/dev/null | sed -u 's/^/platform daemon: /' &
DAEMON_TAIL=$!
sleep 1
# $FLOWS new flows at once (In-Net's Figure 5 has 100): tenants with no guest,
# one ping to each at the same moment, each boots its tenant's guest.
for k in $(seq 1 $FLOWS); do
    printf '[[tenant]]\nname = "pf%d"\naddresses = ["10.75.0.%d"]\nconfig = "pong.click"\ntrust = "client"\n\n' $k $((20 + k))
done >"$PL/flows.toml"
if "$OX" platform --state "$PL/state" add-tenant "$PL/flows.toml" >"$PL/add2.out" 2>&1; then
    rm -f "$PL"/flow-*
    F0=$(ms)
    FPIDS=
    for k in $(seq 1 $FLOWS); do
        (ip netns exec pns busybox ping -c 1 -W 1500 "10.75.0.$((20 + k))" >/dev/null 2>&1 && echo $(($(ms) - F0)) >"$PL/flow-$k") &
        FPIDS="$FPIDS $!"
    done
    wait $FPIDS
    ANSWERED=$(cat "$PL"/flow-* 2>/dev/null | wc -l)
    TIMES=$(cat "$PL"/flow-* 2>/dev/null | sort -n | tr '\n' ' ')
    # A figure, not a check: under this emulation dom0's tools crash when many run
    # at once (the run's log shows where), so how many boot is the machine's say.
    figure platform_new_flows_first_packet_ms "$ANSWERED of $FLOWS answered; min $(echo "$TIMES" | awk '{ print $1 }'), median $(echo "$TIMES" | awk '{ print $int((NF + 1) / 2) }'), max $(echo "$TIMES" | awk '{ print $NF }') ($FLOWS concurrent first pings, each booting its guest, one boot at a time); $(busybox dmesg | grep -c 'segfault\|general protection') dom0 program crashes in the kernel log so far"
else
    fail "platform-flows: add-tenant: $(tr '\n' ';' <"$PL/add2.out")"
fi
"$OX" platform --state "$PL/state" stop >/dev/null 2>&1
kill $PLATFORM_PID $DAEMON_TAIL 2>/dev/null
wait $PLATFORM_PID 2>/dev/null
# Suspend and resume of one guest against how many run beside it (In-Net's
# Figure 7): one of the new guests saved and restored with the others
# running, then with half of them, then alone. (Guests the daemon suspended for
# idling before it stopped are not running: the figure says how many were.)
i=0
while pgrep -f "xl (save|restore)" >/dev/null && [ $i -lt 120 ]; do
    i=$((i + 1))
    sleep 1
done
TARGET=$(xl list | awk '$1 ~ /^pf/ { print $1; exit }')
for keep in all $((FLOWS / 2)) 0; do
    [ -n "$TARGET" ] || break
    [ $keep = all ] || xl list | awk -v t="$TARGET" 'NR > 2 && $1 != t { print $1 }' | tail -n +$((keep + 1)) \
        | while read -r d; do xl destroy "$d"; done
    OTHERS=$(($(xl list | wc -l) - 3))
    R0=$(ms)
    if timeout 180 xl save "$TARGET" "$WORK/target.save" >"$WORK/target-save.out" 2>&1; then
        R1=$(ms)
        if timeout 180 xl restore "$WORK/target.save" >>"$WORK/target-save.out" 2>&1; then
            R2=$(ms)
            figure "suspend_resume_beside_${OTHERS}_ms" "save $((R1 - R0)), restore $((R2 - R1)) ($TARGET, $OTHERS other guests running)"
        else
            figure "suspend_resume_beside_${OTHERS}_ms" "xl restore failed: $(tail -n 2 "$WORK/target-save.out" | tr '\n' ';')"
        fi
    else
        figure "suspend_resume_beside_${OTHERS}_ms" "xl save failed: $(tail -n 2 "$WORK/target-save.out" | tr '\n' ';')"
    fi
    rm -f "$WORK/target.save"
done
xl list | awk 'NR > 2 { print $1 }' | while read -r d; do xl destroy "$d"; done
ip netns del pns 2>/dev/null
ip link del pup0 2>/dev/null
fi
