# shellcheck shell=bash disable=SC2016,SC2154,SC2034 # jq in single quotes; bats' $output; variables for escape.bats
# Helpers for bats/escape.bats: escape attempts by a container's root. Load
# after helpers:
#
#   load helpers
#   load escape
#
# The attacks run in the container's network namespace with `ip netns exec`,
# i.e. as root in the container's namespace with every capability there
# (CAP_NET_RAW, CAP_NET_ADMIN): the host's binaries (python3, busybox, ip)
# do what a container's root could do with its own copies. Frames are made
# and captured by xpkt (below: python3, AF_PACKET), since scapy and tcpdump
# are not installed.
#
# Every refusal is proven against a capture: the attacker's frame is seen
# on its host-side veth (so the probe did send it), and the victim's capture
# holds a control frame that was sent after the probe and did arrive (so
# the capture was running and the probe had its chance), and not the probe.

XPKT_PY=/usr/bin/python3

# xpkt_install: writes the frame tool to $T/xpkt.py.
xpkt_install() {
  [[ -f $T/xpkt.py ]] && return 0
  cat >"$T/xpkt.py" <<'EOF'
# xpkt: crafts and sends Ethernet frames, or captures them (AF_PACKET).
#   xpkt.py send IFACE KIND [--opt value ...]     one frame (or --count N)
#   xpkt.py sniff IFACE OUT READY                 capture until killed
# A capture line: "in|out SMAC DMAC ETHERTYPE HEX" (HEX: the whole frame).
import argparse, os, socket, struct, sys

def mac(s): return bytes.fromhex(s.replace(':', ''))
def ip4(s): return socket.inet_pton(socket.AF_INET, s)
def ip6(s): return socket.inet_pton(socket.AF_INET6, s)

def csum(data):
    if len(data) % 2: data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def ipv4(src, dst, proto, payload, ttl=64, ident=0x4d4f):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), ident, 0, ttl, proto, 0,
                    ip4(src), ip4(dst))
    return h[:10] + struct.pack('!H', csum(h)) + h[12:] + payload

def udp4(src, dst, sport, dport, data):
    u = struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data
    ph = ip4(src) + ip4(dst) + struct.pack('!BBH', 0, 17, len(u))
    c = csum(ph + u) or 0xffff
    return u[:6] + struct.pack('!H', c) + u[8:]

def tcp4(src, dst, sport, dport, flags, data, seq=1, ack=0):
    t = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    ph = ip4(src) + ip4(dst) + struct.pack('!BBH', 0, 6, len(t))
    return t[:16] + struct.pack('!H', csum(ph + t)) + t[18:]

def icmp4(typ, code, rest, data):
    m = struct.pack('!BBH', typ, code, 0) + rest + data
    return m[:2] + struct.pack('!H', csum(m)) + m[4:]

def icmp6(src, dst, typ, code, body):
    m = struct.pack('!BBH', typ, code, 0) + body
    ph = ip6(src) + ip6(dst) + struct.pack('!I3xB', len(m), 58)
    return m[:2] + struct.pack('!H', csum(ph + m)) + m[4:]

def ipv6(src, dst, nxt, payload, hlim=255):
    return struct.pack('!IHBB16s16s', 6 << 28, len(payload), nxt, hlim, ip6(src), ip6(dst)) + payload

def udp6(src, dst, sport, dport, data):
    u = struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data
    ph = ip6(src) + ip6(dst) + struct.pack('!I3xB', len(u), 17)
    c = csum(ph + u) or 0xffff
    return u[:6] + struct.pack('!H', c) + u[8:]

def tcp6(src, dst, sport, dport, flags, data, seq=1):
    t = struct.pack('!HHIIBBHHH', sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + data
    ph = ip6(src) + ip6(dst) + struct.pack('!I3xB', len(t), 6)
    return t[:16] + struct.pack('!H', csum(ph + t)) + t[18:]

def ext6(a, proto, l4):
    # IPv6 packets carrying upper-layer segment l4 (protocol proto) behind
    # the extension headers of --ext (comma list: hbh, dst, atomic: a
    # fragment header at offset 0 with no more fragments), cut in two at
    # byte 40 of l4 with --frag first|rest|all (which fragments to send);
    # with --frag-dst an 8-byte Destination Options header after the
    # fragment header, alone in the first fragment (the upper layer's
    # header only in the second). Returns (next header, payload) pairs.
    heads = [h for h in (a.ext or '').split(',') if h]
    codes = {'hbh': 0, 'dst': 60, 'atomic': 44}
    def chain(tail_proto, tail):
        out, nxt = b'', tail_proto
        for h in reversed(heads):
            if h == 'atomic':
                out = struct.pack('!BBHI', nxt, 0, 0, 0x6d6f6174) + out
            else:  # an 8-byte options header: PadN over its 6 bytes
                out = struct.pack('!BBBB4x', nxt, 0, 1, 4) + out
            nxt = codes[h]
        return nxt, out + tail
    if not a.frag:
        return [chain(proto, l4)]
    cut = 40
    if a.frag_dst:
        l4, proto, cut = struct.pack('!BBBB4x', proto, 0, 1, 4) + l4, 60, 8
    parts = [(0, 1, l4[:cut]), (cut, 0, l4[cut:])]
    pick = {'first': parts[:1], 'rest': parts[1:], 'all': parts}[a.frag]
    return [chain(44, struct.pack('!BBHI', proto, 0, off | more, 0x6d6f6174) + chunk)
            for off, more, chunk in pick]

def dhcp_offer(smac, yiaddr, server, token):
    # BOOTREPLY, xid from the token, yiaddr offered, options: offer, server,
    # mask, router, lease; the token in the file field (capture marker).
    f = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 2, 1, 6, 0, 0x6d6f6174, 0, 0x8000,
                    b'\0' * 4, ip4(yiaddr), ip4(server), b'\0' * 4, mac(smac) + b'\0' * 10,
                    b'\0' * 64, token.ljust(128, b'\0'))
    o = b'\x63\x82\x53\x63' + b'\x35\x01\x02' + b'\x36\x04' + ip4(server) + \
        b'\x01\x04\xff\xff\xff\x00' + b'\x03\x04' + ip4(server) + b'\x33\x04\x00\x00\x0e\x10' + b'\xff'
    return f + o

def build(a):
    tok = a.token.encode()
    ethertype = 0x0800
    if a.kind == 'udp':
        l4 = udp4(a.src, a.dst, a.sport, a.dport, tok)
        body = ipv4(a.src, a.dst, 17, l4, a.ttl)
    elif a.kind == 'tcp-syn':
        l4 = tcp4(a.src, a.dst, a.sport, a.dport, 0x02, b'')
        body = ipv4(a.src, a.dst, 6, l4, a.ttl, ident=a.ident)
    elif a.kind == 'icmp-echo':
        l4 = icmp4(8, 0, struct.pack('!HH', 0x6d74, 1), tok)
        body = ipv4(a.src, a.dst, 1, l4, a.ttl)
    elif a.kind == 'icmp-error':
        # An ICMP error (--type/--code; redirect: --gateway) quoting a packet
        # inner-src:inner-sport -> inner-dst:inner-dport (--inner-proto).
        if a.inner_proto == 'tcp':
            inner_l4 = struct.pack('!HHI', a.inner_sport, a.inner_dport, a.inner_seq)
            proto = 6
        else:
            inner_l4 = struct.pack('!HHHH', a.inner_sport, a.inner_dport, 8 + len(tok), 0)
            proto = 17
        inner = ipv4(a.inner_src, a.inner_dst, proto, inner_l4 + tok, 64)
        inner = inner[:2] + struct.pack('!H', 20 + 8 + len(tok)) + inner[4:]
        rest = ip4(a.gateway) if a.type == 5 else struct.pack('!HH', 0, a.mtu)
        body = ipv4(a.src, a.dst, 1, icmp4(a.type, a.code, rest, inner), a.ttl)
    elif a.kind == 'dhcp-offer':
        l4 = udp4(a.src, '255.255.255.255', 67, 68, dhcp_offer(a.smac, a.yiaddr, a.src, tok))
        body = ipv4(a.src, '255.255.255.255', 17, l4, a.ttl)
    elif a.kind == 'arp':
        ethertype = 0x0806
        body = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, a.op, mac(a.sha or a.smac),
                           ip4(a.spa), mac(a.tha), ip4(a.tpa)) + tok
    elif a.kind in ('udp6', 'tcp6-syn') and (a.ext or a.frag):
        # Behind extension headers (ext6); with --frag the token twice, so
        # that each fragment carries it whole.
        if a.kind == 'udp6':
            l4 = udp6(a.src, a.dst, a.sport, a.dport, tok.ljust(32, b'.') + tok if a.frag else tok)
            proto = 17
        else:
            l4 = tcp6(a.src, a.dst, a.sport, a.dport, 0x02, tok.ljust(20, b'.') + tok)
            proto = 6
        return [l2(a, 0x86dd) + ipv6(a.src, a.dst, nxt, pl, a.ttl) for nxt, pl in ext6(a, proto, l4)]
    elif a.kind == 'udp6':
        body = ipv6(a.src, a.dst, 17, udp6(a.src, a.dst, a.sport, a.dport, tok), a.ttl)
        ethertype = 0x86dd
    elif a.kind == 'tcp6-syn':
        body = ipv6(a.src, a.dst, 6, tcp6(a.src, a.dst, a.sport, a.dport, 0x02, tok), a.ttl)
        ethertype = 0x86dd
    elif a.kind == 'icmp6-error':
        # An ICMPv6 error (--type 1 unreachable, 2 packet too big (--mtu),
        # 3 time exceeded; --code) quoting inner-src:inner-sport ->
        # inner-dst:inner-dport (--inner-proto).
        if a.inner_proto == 'tcp':
            inner_l4, proto = struct.pack('!HHI', a.inner_sport, a.inner_dport, a.inner_seq), 6
        else:
            inner_l4, proto = struct.pack('!HHHH', a.inner_sport, a.inner_dport, 8 + len(tok), 0), 17
        inner = ipv6(a.inner_src, a.inner_dst, proto, inner_l4 + tok, 64)
        rest = struct.pack('!I', a.mtu if a.type == 2 else 0)
        body = ipv6(a.src, a.dst, 58, icmp6(a.src, a.dst, a.type, a.code, rest + inner), a.ttl)
        ethertype = 0x86dd
    elif a.kind == 'echo6':
        body = ipv6(a.src, a.dst, 58, icmp6(a.src, a.dst, 128, 0, struct.pack('!HH', 0x6d74, 1) + tok), a.ttl)
        ethertype = 0x86dd
    elif a.kind == 'ra':
        # Router advertisement: router lifetime 1800 s, a prefix (on-link,
        # autonomous, valid 1 day), a route option, the token in a nonce.
        pfx = ip6(a.prefix)
        body = struct.pack('!BBHII', 64, 0, 1800, 0, 0)
        body += struct.pack('!BB6s', 1, 1, mac(a.smac))
        body += struct.pack('!BBBBIII16s', 3, 4, 64, 0xc0, 86400, 14400, 0, pfx)
        body += struct.pack('!BBBBI16s', 24, 3, 64, 0x08, 86400, pfx)
        n = tok[:14].ljust(14, b'\0')
        body += struct.pack('!BB', 14, 2) + n
        body = ipv6(a.src, 'ff02::1', 58, icmp6(a.src, 'ff02::1', 134, 0, body), 255)
        ethertype = 0x86dd
    elif a.kind == 'na':
        # Unsolicited neighbour advertisement (override) for --target.
        body = struct.pack('!I16s', 0x20000000, ip6(a.target)) + struct.pack('!BB6s', 2, 1, mac(a.smac))
        body += struct.pack('!BB', 14, 2) + tok[:14].ljust(14, b'\0')
        body = ipv6(a.src, 'ff02::1', 58, icmp6(a.src, 'ff02::1', 136, 0, body), 255)
        ethertype = 0x86dd
    elif a.kind in ('ns', 'na6', 'redirect6'):
        # Neighbour solicitation (--target, to its solicited-node group), an
        # advertisement (--target, to --dst) or a redirect (--target,
        # --dest, to --dst), with a link-layer option (--lla, default
        # --smac; --opt-type 1 source, 2 target) and the token in a nonce.
        typ = {'ns': 135, 'na6': 136, 'redirect6': 137}[a.kind]
        t = ip6(a.target)
        dst = a.dst or 'ff02::1'
        if typ == 135 and not a.dst:
            dst = socket.inet_ntop(socket.AF_INET6, bytes.fromhex('ff0200000000000000000001ff') + t[13:])
        body = struct.pack('!I16s', a.na_flags << 24 if typ == 136 else 0, t)
        if typ == 137: body += ip6(a.dest)
        otype = a.opt_type or (1 if typ == 135 else 2)
        body += struct.pack('!BB6s', otype, 1, mac(a.lla or a.smac))
        body += struct.pack('!BB', 14, 2) + tok[:14].ljust(14, b'\0')
        body = ipv6(a.src, dst, 58, icmp6(a.src, dst, typ, 0, body), 255)
        ethertype = 0x86dd
    elif a.kind == 'mld2':
        # An MLDv2 report to ff02::16: one record (change to exclude) for
        # --target, the token in its auxiliary data.
        aux = tok[:16].ljust(16, b'\0')
        rec = struct.pack('!BBH16s', 4, 4, 0, ip6(a.target)) + aux
        body = struct.pack('!HH', 0, 1) + rec
        body = ipv6(a.src, 'ff02::16', 58, icmp6(a.src, 'ff02::16', 143, 0, body), 1)
        ethertype = 0x86dd
    elif a.kind == 'raw':
        ethertype = int(a.ethertype, 0)
        body = tok
    else:
        sys.exit('xpkt: unknown kind ' + a.kind)
    if ethertype == 0x86dd and (a.ext or a.frag):
        # Any IPv6 kind behind extension headers or in fragments (ext6).
        return [l2(a, ethertype) + body[:4] + struct.pack('!HB', len(pl), nxt) + body[7:40] + pl
                for nxt, pl in ext6(a, body[6], body[40:])]
    return l2(a, ethertype) + body

def l2(a, ethertype):
    if a.vlan is not None:
        return mac(a.dmac) + mac(a.smac) + struct.pack('!HHH', 0x8100, a.vlan, ethertype)
    return mac(a.dmac) + mac(a.smac) + struct.pack('!H', ethertype)

def send(a):
    frames = build(a)
    if not isinstance(frames, list): frames = [frames]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    for _ in range(a.count):
        for frame in frames:
            if s.send(frame) != len(frame):
                sys.exit('xpkt: short send')
    print('sent %d x %d frames on %s' % (a.count, len(frames), a.iface))

def sniff(iface, out, ready):
    # The kernel takes a VLAN tag out of the frame before a capture sees
    # it; PACKET_AUXDATA hands it over, and it is put back (as tcpdump does).
    SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID = 263, 8, 0x10
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((iface, 0))
    with open(out, 'a', buffering=1) as f:
        open(ready, 'w').close()
        while True:
            data, anc, _, addr = s.recvmsg(65535, socket.CMSG_SPACE(32))
            for level, typ, cd in anc:
                if level == SOL_PACKET and typ == PACKET_AUXDATA and len(cd) >= 20:
                    status, _, _, _, _, tci, tpid = struct.unpack('IIIHHHH', cd[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        data = data[:12] + struct.pack('!HH', tpid or 0x8100, tci) + data[12:]
            if len(data) < 14: continue
            way = 'out' if addr[2] == socket.PACKET_OUTGOING else 'in'
            f.write('%s %s %s %04x %s\n' % (way, data[6:12].hex(':'), data[0:6].hex(':'),
                                            struct.unpack('!H', data[12:14])[0], data.hex()))

def isniff(out, ready):
    # What the IP stack delivers: a raw ICMP socket gets a copy of every
    # ICMP packet that passed the input hook (the IP header included).
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    with open(out, 'a', buffering=1) as f:
        open(ready, 'w').close()
        while True:
            data = s.recv(65535)
            f.write('in - - 0800 %s\n' % ('00' * 14 + data.hex()))

def isniff6(out, ready):
    # The same for ICMPv6 (the IPv6 header not included: 40 zero bytes).
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    with open(out, 'a', buffering=1) as f:
        open(ready, 'w').close()
        while True:
            data = s.recv(65535)
            f.write('in - - 86dd %s\n' % ('00' * 54 + data.hex()))

p = argparse.ArgumentParser()
p.add_argument('cmd'); p.add_argument('iface'); p.add_argument('rest', nargs='*')
for o in ('smac', 'dmac', 'src', 'dst', 'sha', 'tha', 'spa', 'tpa', 'target', 'prefix',
          'yiaddr', 'gateway', 'inner_src', 'inner_dst', 'ethertype', 'lla', 'dest', 'ext', 'frag'):
    p.add_argument('--' + o.replace('_', '-'), dest=o, default=None)
p.add_argument('--tha-default', default='00:00:00:00:00:00')
for o, d in (('sport', 40000), ('dport', 9), ('ttl', 64), ('op', 2), ('type', 3), ('code', 13),
             ('mtu', 0), ('inner_sport', 0), ('inner_dport', 0), ('inner_seq', 0), ('count', 1),
             ('ident', 0x4d4f), ('opt_type', 0), ('na_flags', 0x20)):
    p.add_argument('--' + o.replace('_', '-'), dest=o, type=int, default=d)
p.add_argument('--vlan', type=int, default=None)
p.add_argument('--frag-dst', dest='frag_dst', action='store_true')
p.add_argument('--inner-proto', dest='inner_proto', default='udp')
p.add_argument('--token', default='')
a = p.parse_args()
if a.cmd == 'send':
    a.kind = a.rest[0]
    if a.tha is None: a.tha = a.tha_default
    send(a)
elif a.cmd == 'sniff':
    sniff(a.iface, a.rest[0], a.rest[1])
elif a.cmd == 'isniff':
    isniff(a.rest[0], a.rest[1])
elif a.cmd == 'isniff6':
    isniff6(a.rest[0], a.rest[1])
else:
    sys.exit('xpkt: unknown command ' + a.cmd)
EOF
}

# xpkt NS send IFACE KIND [--opt value...]: sends one crafted frame from
# netns NS ("host": the host) with the packet socket of its root.
xpkt() {
  local ns=$1
  shift
  xpkt_install
  ns_run "$ns" "$XPKT_PY" "$T/xpkt.py" "$@"
}

# sniff_start TAG NS IFACE: captures every frame on IFACE (in netns NS) to
# $T/cap.TAG until teardown; returns once the capture runs. IFACE "-ip":
# the ICMP packets NS's IP stack delivers instead (past the input hook);
# "-ip6": the ICMPv6 ones.
sniff_start() {
  local tag=$1 ns=$2 iface=$3
  xpkt_install
  : >"$T/cap.$tag"
  rm -f "$T/cap.$tag.ready"
  if [[ $iface == -ip ]]; then
    start_bg "$ns" "$XPKT_PY" "$T/xpkt.py" isniff - "$T/cap.$tag" "$T/cap.$tag.ready"
  elif [[ $iface == -ip6 ]]; then
    start_bg "$ns" "$XPKT_PY" "$T/xpkt.py" isniff6 - "$T/cap.$tag" "$T/cap.$tag.ready"
  else
    start_bg "$ns" "$XPKT_PY" "$T/xpkt.py" sniff "$iface" "$T/cap.$tag" "$T/cap.$tag.ready"
  fi
  wait_for 5 test -e "$T/cap.$tag.ready"
}

hex_of() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
# hex_ip ADDR: an IPv4 address as 8 hex digits (as in a capture).
hex_ip() {
  local IFS=.
  # shellcheck disable=SC2086 # the four bytes, split at the dots
  printf '%02x' $1
}

# captured TAG TOKEN [WAY]: how many frames of capture TAG carry TOKEN
# (received ones, WAY "in", by default; "out" or "any").
captured() {
  local hex way=${3:-in}
  hex=$(hex_of "$2")
  awk -v h="$hex" -v w="$way" '(w == "any" || $1 == w) && index($5, h) { n++ } END { print n + 0 }' \
    "$T/cap.$1"
}

# frames TAG WAY SMAC ETHERTYPE [HEX_AT...]: how many frames of capture TAG
# match: WAY in/out, SMAC, ETHERTYPE (4 hex digits), each "-" for any; then
# OFFSET=HEX pairs: the frame's bytes at OFFSET (from the Ethernet header)
# are HEX. IPv4 without options: protocol 23, ICMP type 34, UDP dport 36.
frames() {
  local tag=$1 way=$2 smac=$3 et=$4
  shift 4
  awk -v w="$way" -v m="$smac" -v e="$et" -v at="$*" '
    BEGIN { n = split(at, ps, " ") }
    (w == "-" || $1 == w) && (m == "-" || $2 == m) && (e == "-" || $4 == e) {
      ok = 1
      for (i = 1; i <= n; i++) {
        split(ps[i], kv, "=")
        if (substr($5, kv[1] * 2 + 1, length(kv[2])) != kv[2]) ok = 0
      }
      c += ok
    }
    END { print c + 0 }' "$T/cap.$tag"
}

# frames_at_least N TAG WAY SMAC ETHERTYPE [HEX_AT...]: for wait_for.
frames_at_least() {
  local n=$1
  shift
  (($(frames "$@") >= n))
}

# received_is TOKEN N: a server logged TOKEN N times (for wait_for).
received_is() { [[ $(received "$1") == "$2" ]]; }

# cap_has TAG TOKEN [WAY]: capture TAG holds a frame with TOKEN.
cap_has() { (($(captured "$@") > 0)); }

# wait_captured TAG TOKEN [WAY]: waits (5 s) until capture TAG holds TOKEN.
wait_captured() { wait_for 5 cap_has "$@"; }

# Control frames: proof that a capture runs and that what was sent before
# had its chance to arrive. control_udp FROM_NS DST TOKEN sends one UDP
# datagram (socat) carrying TOKEN to DST port 9 (discard).
control_udp() {
  printf '%s' "$3" | ns_run "$1" timeout 5 socat -u - "UDP4-SENDTO:$2:9,broadcast" >/dev/null 2>&1 || true
}

# gw_mac: the bridge's MAC (the gateway's, as the containers see it).
gw_mac() { cat "/sys/class/net/$BR/address"; }

# ---------------------------------------------------------------- policy snapshot

# policy_of NAME...: every moat element naming the containers' address,
# host end or MAC, in both tables (sorted), and the identity chains that
# their src_ident elements jump to, with those chains' rules.
policy_of() {
  local name words=()
  for name in "$@"; do
    words+=("$(ip_of "$name")" "$(hostif_of "$name")" "$(mac_of "$name")")
  done
  nft_elems_matching "${words[@]}" | sort
}

# snapshot_others NAME...: remembers policy_of NAME... for assert_unchanged.
snapshot_others() {
  SNAP_NAMES=("$@")
  SNAP=$(policy_of "$@")
  [[ -n $SNAP ]] || fail "snapshot of $* is empty"
}

# assert_unchanged: the elements naming the snapshot's containers are
# exactly as they were.
assert_unchanged() {
  local now
  now=$(policy_of "${SNAP_NAMES[@]}")
  [[ $now == "$SNAP" ]] ||
    fail "policy of ${SNAP_NAMES[*]} changed:" "$(diff <(echo "$SNAP") <(echo "$now") || true)"
}

# neigh_of DEV: the host's neighbour entries on DEV (address, lladdr,
# sorted; states left out, they change with time).
neigh_of() {
  ip -4 neigh show dev "$1" | awk '$2 == "lladdr" { print $1, $3 }' | sort
}

# ---------------------------------------------------------------- the world

# setup_world: three containers on the test's network: the attacker a (no
# label; the host's udp/$PA open to it, for controls), and b and c, which
# share a label (so b <-> c is allowed) and may open the host's tcp and udp
# $P. TCP and UDP servers on $P in b, c and on the gateway; captures on a's
# host end (A: what a sent), in b and c (B, C: what reached them) and on the
# bridge device (BR: what reached the host). The policy of b and c is
# snapshotted for assert_others_intact.
setup_world() {
  xpkt_install
  P=$(random_port)
  PA=$((P + 1))
  add_container a
  add_container b
  add_container c
  run -0 hook prestart a "$(jq -nc --arg v "udp/$PA" '{"io.moat.allow-host": $v}')"
  run -0 hook prestart b "$(jq -nc --arg v "tcp/$P,udp/$P" \
    '{"io.moat.labels": "app=pair", "io.moat.allow-host": $v}')"
  run -0 hook prestart c '{"io.moat.labels": "app=pair"}'
  NSA=$(ns_of a) NSB=$(ns_of b) NSC=$(ns_of c)
  IPA=$(ip_of a) IPB=$(ip_of b) IPC=$(ip_of c)
  MACA=$(mac_of a) MACB=$(mac_of b)
  HA=$(hostif_of a)
  GWMAC=$(gw_mac)
  local ns
  for ns in "$NSB" "$NSC"; do
    ns_tcp_listen "$ns" 0.0.0.0 "$P"
    ns_udp_listen "$ns" 0.0.0.0 "$P"
  done
  ns_tcp_listen host "$GW" "$P"
  ns_udp_listen host "$GW" "$P"
  ns_udp_listen host "$GW" "$PA"
  sniff_start A host "$HA"
  sniff_start B "$NSB" eth0
  sniff_start C "$NSC" eth0
  sniff_start BR host "$BR"
  snapshot_others b c
  # The world works as it should before the attack.
  assert_others_intact
}

# assert_others_intact: b's and c's elements are as they were, b and c
# still talk both ways, b still reaches its host port, the host still
# reaches b, and a is still refused by b.
assert_others_intact() {
  assert_unchanged
  PROBE_TOKEN=intact-bc-$RANDOM run -0 ns_tcp_connect "$NSB" "$IPC" "$P"
  PROBE_TOKEN=intact-cb-$RANDOM run -0 ns_udp_connect "$NSC" "$IPB" "$P"
  PROBE_TOKEN=intact-bh-$RANDOM run -0 ns_udp_connect "$NSB" "$GW" "$P"
  PROBE_TOKEN=intact-hb-$RANDOM run -0 ns_tcp_connect host "$IPB" "$P"
  PROBE_TOKEN=intact-ab-$RANDOM run ns_tcp_connect "$NSA" "$IPB" "$P"
  assert_eq "$output" refused "a -> b tcp"
}

# sent_by_a TOKEN: the attacker's frame carrying TOKEN left the container
# (it is in capture A, on a's host end, before the bridge's filter).
sent_by_a() { wait_captured A "$1" || fail "a's frame with $1 never left the container"; }

# settle TAG DST_NS_IP: sends a control datagram from the host to DST (b's
# or c's address, or a broadcast) and waits until capture TAG has it: what
# was sent before it has had its chance to arrive.
settle() {
  local tok=ctl-$RANDOM$RANDOM
  control_udp host "$2" "$tok"
  wait_captured "$1" "$tok" || fail "control $tok to $2 never reached capture $1"
}

# settle_host: a's own datagram (from its interface $A_IF, eth0) to its granted host port, sent after the
# probes along their path: once the host has it (capture BR and the
# server), the probes before it have had their chance to reach the host.
settle_host() {
  local tok=ctl-a-$RANDOM$RANDOM
  run -0 xpkt "$NSA" send "${A_IF:-eth0}" udp --smac "$MACA" --dmac "$GWMAC" --src "$IPA" \
    --dst "$GW" --dport "$PA" --token "$tok"
  wait_captured BR "$tok" || fail "a's control $tok never reached the bridge"
  wait_for 5 received_is "$tok" 1 || fail "a's control $tok never reached the host's server"
}

# assert_not_captured TAG TOKEN [WHAT]
assert_not_captured() {
  local n
  n=$(captured "$1" "$2")
  assert_eq "$n" 0 "${3:-frames with $2 in capture $1}"
}
