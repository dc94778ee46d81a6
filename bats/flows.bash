# shellcheck shell=bash disable=SC2154 # bats' $output
# Helpers for bats/cut.bats: long-lived TCP and UDP flows, logged packet by
# packet, to show when a flow stops passing. Load after helpers.
#
# A probe sends "seq N" every 0.1 s on one connection (TCP) or one socket
# and source port (UDP) and waits up to 0.3 s for the echo; each tick is
# one log line "<unix time> ok|miss|dead N". A server echoes every line
# or datagram. A pusher (UDP) waits for one datagram, then sends "push N"
# to its sender every 0.1 s whatever happens; a listener (UDP) logs what it
# gets, after sending a hello from its port to HELLO_IP HELLO_PORT if given.

flows_install() {
  cat >"$T/flow.py" <<'PY'
import socket, sys, threading, time

def fam(ip): return socket.AF_INET6 if ':' in ip else socket.AF_INET

def log(f, what, n):
    f.write('%.3f %s %d\n' % (time.time(), what, n)); f.flush()

def serve(proto, ip, port):
    if proto == 'udp':
        s = socket.socket(fam(ip), socket.SOCK_DGRAM)
        s.bind((ip, port))
        while True:
            data, peer = s.recvfrom(2048)
            s.sendto(data, peer)
    s = socket.socket(fam(ip), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port)); s.listen(16)
    def echo(c):
        try:
            while True:
                data = c.recv(2048)
                if not data:
                    return
                c.sendall(data)
        except OSError:
            return
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()

def probe(proto, ip, port, seconds, path):
    kind = socket.SOCK_DGRAM if proto == 'udp' else socket.SOCK_STREAM
    s = socket.socket(fam(ip), kind)
    s.settimeout(1)
    s.connect((ip, port))
    s.settimeout(0.3)
    end, n, dead = time.time() + seconds, 0, False
    with open(path, 'a') as f:
        while time.time() < end:
            n += 1
            t0 = time.time()
            if dead:
                log(f, 'dead', n)
            else:
                try:
                    s.send(b'seq %d\n' % n)
                    got = s.recv(2048)
                    if proto == 'tcp' and not got:
                        raise ConnectionResetError
                    log(f, 'ok', n)
                except socket.timeout:
                    log(f, 'miss', n)
                except OSError:
                    log(f, 'miss' if proto == 'udp' else 'dead', n)
                    dead = proto == 'tcp'
            time.sleep(max(0, 0.1 - (time.time() - t0)))

def push(ip, port, seconds, path):
    s = socket.socket(fam(ip), socket.SOCK_DGRAM)
    s.bind((ip, port))
    _, peer = s.recvfrom(2048)
    end, n = time.time() + seconds, 0
    with open(path, 'a') as f:
        while time.time() < end:
            n += 1
            try:
                s.sendto(b'push %d\n' % n, peer)
                log(f, 'sent', n)
            except OSError:
                log(f, 'error', n)
            time.sleep(0.1)

def listen(ip, port, path, hello=None):
    s = socket.socket(fam(ip), socket.SOCK_DGRAM)
    s.bind((ip, port))
    if hello:
        s.sendto(b'hello\n', (hello[0], int(hello[1])))
    with open(path, 'a') as f:
        f.write('ready\n'); f.flush()
        while True:
            data, peer = s.recvfrom(2048)
            f.write('%.3f got %s from %s\n' % (time.time(), data.decode(errors='replace').strip(), peer[0]))
            f.flush()

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == 'serve': serve(args[0], args[1], int(args[2]))
elif cmd == 'probe': probe(args[0], args[1], int(args[2]), float(args[3]), args[4])
elif cmd == 'push': push(args[0], int(args[1]), float(args[2]), args[3])
elif cmd == 'listen': listen(args[0], int(args[1]), args[2], args[3:5] or None)
PY
}


now() { date +%s.%N | cut -c1-14; }
plus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; }

# flow_serve NS tcp|udp IP PORT: an echo server (NS "host": the host's).
flow_serve() {
  start_bg "$1" python3 "$T/flow.py" serve "$2" "$3" "$4"
  wait_for 5 listening "$1" "$2" "$4"
}

# flow_probe NS tcp|udp IP PORT SECONDS NAME: a probe logging to $T/NAME.
flow_probe() {
  : >"$T/$6"
  start_bg "$1" python3 "$T/flow.py" probe "$2" "$3" "$4" "$5" "$T/$6"
}

oks() { grep -c ' ok ' "$T/$1" || true; }

# flows_flowing NAME...: waits until every probe logged three echoes.
flows_flowing() {
  local name
  for name in "$@"; do
    wait_for 5 eval "(( \$(oks $name) >= 3 ))" || fail "flow $name never flowed: $(tail -3 "$T/$name")"
  done
}

# flow_cut NAME T: the flow passed before T, and nothing passed from T + 1 s
# on, for at least a further 1.5 s of probing (a tick that waits for its
# echo in vain takes 0.3 s).
flow_cut() {
  local name=$1 t=$2 before after late
  wait_for 10 eval "awk -v t=$t '\$1 > t + 2.5 { found = 1 } END { exit !found }' '$T/$name'" ||
    fail "probe $name stopped logging: $(tail -3 "$T/$name")"
  before=$(awk -v t="$t" '$1 < t && $2 == "ok"' "$T/$name" | wc -l)
  after=$(awk -v t="$t" '$1 > t + 1' "$T/$name" | wc -l)
  late=$(awk -v t="$t" '$1 > t + 1 && $2 == "ok"' "$T/$name" | wc -l)
  ((before >= 3)) || fail "$name: only $before echoes before the cut"
  ((after >= 4)) || fail "$name: only $after probes after the cut"
  ((late == 0)) || fail "$name: $late echoes more than 1 s after the cut:" "$(awk -v t="$t" '$1 > t + 1 && $2 == "ok"' "$T/$name" | head -3)"
}

# flow_lives NAME T: the flow still passed more than 1 s after T.
flow_lives() {
  local name=$1 t=$2
  wait_for 10 eval "awk -v t=$t '\$1 > t + 1.5 && \$2 == \"ok\" { found = 1 } END { exit !found }' '$T/$name'" ||
    fail "$name: no echo more than 1.5 s after $t: $(tail -3 "$T/$name")"
}
