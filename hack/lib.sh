# shellcheck shell=bash
# Shared helpers for hack/bench-cni and hack/demo. Source it; it defines
# functions and a few variables only (prefix moat_ / MOAT_), changes nothing.

MOAT_HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MOAT_ROOT=$(cd "$MOAT_HACK_DIR/.." && pwd)

# Colour only for a terminal, and never when NO_COLOR is set. Sets C_OK,
# C_BAD, C_DIM, C_BOLD, C_RST for the scripts that source this file.
# shellcheck disable=SC2034
moat_colours_init ()
{
  if [[ -t 1 && -z ${NO_COLOR:-} && ${TERM:-dumb} != dumb ]]; then
    C_OK=$'\e[32m' C_BAD=$'\e[31m' C_DIM=$'\e[2m' C_BOLD=$'\e[1m' C_RST=$'\e[0m'
  else
    C_OK='' C_BAD='' C_DIM='' C_BOLD='' C_RST=''
  fi
}

moat_die ()
{
  printf '%s: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

moat_need_root ()
{
  [[ $(id -u) == 0 ]] || moat_die "needs root (network namespaces, bridges, nftables)"
}

moat_need_cmds ()
{
  local c missing=()
  for c in "$@"; do
    command -v "$c" > /dev/null 2>&1 || missing+=("$c")
  done
  ((${#missing[@]} == 0)) || moat_die "missing command(s): ${missing[*]} (run hack/install-deps.sh)"
}

# The plugin under test: $MOAT_BUILD/moat (MOAT_BUILD defaults to ./build).
moat_plugin_path ()
{
  local build=${MOAT_BUILD:-$MOAT_ROOT/build}
  [[ -x $build/moat ]] || moat_die "$build/moat not built (make all)"
  printf '%s\n' "$build/moat"
}

# The system python (fast start, no pyenv shim); any python3 otherwise.
moat_python ()
{
  local p
  for p in /usr/bin/python3 "$(command -v python3 2> /dev/null)"; do
    [[ -n $p && -x $p ]] && { printf '%s\n' "$p"; return 0; }
  done
  moat_die "python3 not found"
}

# moat_median FILE: median of the numbers in FILE, one per line.
moat_median ()
{
  sort -n "$1" | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "nan"; exit }
      if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# moat_max FILE
moat_max ()
{
  sort -n "$1" | tail -n 1
}

# moat_bench_tmpdir PFX: a new temporary directory on a tmpfs of its own,
# where a benchmark keeps every plugin's state (moat's MOAT_RUN_DIR,
# host-local's dataDir). moat keeps its state in /run, a tmpfs on every
# systemd host; /tmp may be a disk (on the VM moat is developed on it is
# the root ext4, mounted with discard, where replacing a file costs up to
# 4 ms), which would measure the disk rather than the plugins.
# moat_bench_tmpdir_remove DIR undoes it.
moat_bench_tmpdir ()
{
  local dir
  dir=$(mktemp -d "/tmp/$1.XXXXXX")
  mount -t tmpfs -o mode=0700,size=1g "$1" "$dir" || {
    rmdir "$dir"
    moat_die "cannot mount a tmpfs on $dir"
  }
  echo "$dir"
}

moat_bench_tmpdir_remove ()
{
  [[ -n $1 && -d $1 ]] || return 0
  umount "$1" 2> /dev/null || true
  rm -rf -- "$1"
}

# moat_build_timer DIR: compiles DIR/timed, a tiny exec wrapper:
#   timed OUT CMD...   runs CMD (stdin inherited, stdout to OUT) and prints
#                      "<wall µs> <peak RSS KiB> <exit code>".
# The RSS is the child's ru_maxrss from wait4 (it includes the children it
# waited for, e.g. a delegated IPAM plugin). It must be a small C program
# that fork()s: ru_maxrss keeps the high-water mark of the memory image the
# child had before exec, so a python or bash parent (or vfork, which shares
# the parent's image) would put its own size under every figure.
moat_build_timer ()
{
  local dir=$1
  cat > "$dir/timed.c" << 'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long
elapsed_us (const struct timespec *a, const struct timespec *b)
{
  return (b->tv_sec - a->tv_sec) * 1000000LL + (b->tv_nsec - a->tv_nsec) / 1000;
}

int
main (int argc, char **argv)
{
  struct timespec start, end;
  struct rusage usage;
  int status, out;
  pid_t pid;

  if (argc < 3)
    {
      fprintf (stderr, "usage: timed OUT CMD [ARG...]\n");
      return 2;
    }
  out = open (argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0)
    {
      perror (argv[1]);
      return 2;
    }
  clock_gettime (CLOCK_MONOTONIC, &start);
  pid = fork ();
  if (pid < 0)
    {
      perror ("fork");
      return 2;
    }
  if (pid == 0)
    {
      dup2 (out, STDOUT_FILENO);
      execv (argv[2], argv + 2);
      _exit (127);
    }
  if (wait4 (pid, &status, 0, &usage) < 0)
    {
      perror ("wait4");
      return 2;
    }
  clock_gettime (CLOCK_MONOTONIC, &end);
  printf ("%lld %ld %d\n", elapsed_us (&start, &end), usage.ru_maxrss,
          WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
  return 0;
}
EOF
  "${CC:-cc}" -O2 -o "$dir/timed" "$dir/timed.c" || moat_die "cannot build the timing wrapper"
}

# moat_write_py_helpers DIR: writes the python helpers the demo uses:
#   probe.py MODE HOST PORT [SRC]   MODE tcp|http|udp; prints one line
#                         "allowed|refused|dropped|error <detail>".
#   echo.py ADDR PORT PROTO...      tcp and/or udp echo server.
#   sniff.py IFACE SRC SECONDS READY  counts packets from SRC reaching IFACE.
#   garp.py IFACE IP                gratuitous ARP claiming IP (ARP spoofing).
moat_write_py_helpers ()
{
  local dir=$1
  cat > "$dir/probe.py" << 'EOF'
import errno, os, socket, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
src = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
timeout = float(os.environ.get("PROBE_TIMEOUT", "1.5"))
IP_TRANSPARENT = 19  # bind and send from an address not ours (forged source)

def verdict(kind, detail):
    print(kind, detail)
    sys.exit(0)

def refusal(e):
    if e.errno == errno.ECONNREFUSED:
        return "connection refused (TCP reset)" if mode != "udp" else "ICMP port unreachable"
    if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "ICMP unreachable (admin-prohibited)"
    if e.errno in (errno.EPERM, errno.EACCES):
        return "blocked by a local rule"
    return None

kind = socket.SOCK_DGRAM if mode == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.settimeout(timeout)
if src:
    s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    s.bind((src, 0))
try:
    s.connect((host, port))
    if mode == "http":
        s.sendall(b"GET / HTTP/1.0\r\nHost: moat\r\n\r\n")
        line = s.recv(256).split(b"\r\n", 1)[0].decode(errors="replace")
        verdict("allowed", line or "connected, empty answer")
    s.send(b"moat\n")
    try:
        data = s.recv(64)
    except TimeoutError:
        if mode == "udp":
            raise
        verdict("allowed", "connected (no echo)")
    verdict("allowed", "echo %r" % data.decode(errors="replace").strip())
except TimeoutError:
    verdict("dropped", "no reply within %gs" % timeout)
except OSError as e:
    why = refusal(e)
    verdict("refused", why) if why else verdict("error", e.strerror or str(e))
EOF
  cat > "$dir/echo.py" << 'EOF'
import selectors, socket, sys
addr, port, protos = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
sel = selectors.DefaultSelector()
for p in protos:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if p == "tcp" else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if p == "tcp":
        s.listen(16)
    sel.register(s, selectors.EVENT_READ, p)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        try:
            if key.data == "udp":
                data, peer = s.recvfrom(2048)
                s.sendto(data, peer)
            elif key.data == "tcp":
                c, _ = s.accept()
                sel.register(c, selectors.EVENT_READ, "conn")
            else:
                data = s.recv(2048)
                if data:
                    s.sendall(data)
                else:
                    sel.unregister(s)
                    s.close()
        except OSError:
            if key.data == "conn":
                sel.unregister(s)
                s.close()
EOF
  cat > "$dir/sniff.py" << 'EOF'
# sniff.py IFACE SRC SECONDS READY: counts IPv4 packets from SRC that IFACE
# receives (not the ones it sends) for SECONDS; touches READY once listening.
import socket, sys, time
iface, src, secs, ready = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
s.bind((iface, 0))
open(ready, "w").close()
want, seen, end = socket.inet_aton(src), 0, time.monotonic() + secs
while (left := end - time.monotonic()) > 0:
    s.settimeout(left)
    try:
        data, addr = s.recvfrom(2048)
    except TimeoutError:
        break
    if addr[2] != socket.PACKET_OUTGOING and data[12:16] == want:
        seen += 1
print(seen)
EOF
  cat > "$dir/garp.py" << 'EOF'
# garp.py IFACE IP: sends gratuitous ARP replies claiming IP for IFACE's MAC.
import socket, struct, sys, time
iface, ip = sys.argv[1], sys.argv[2]
with open("/sys/class/net/%s/address" % iface) as f:
    mac = bytes.fromhex(f.read().strip().replace(":", ""))
addr = socket.inet_aton(ip)
arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mac, addr, b"\xff" * 6, addr)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
for _ in range(3):
    s.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
    time.sleep(0.2)
EOF
}
