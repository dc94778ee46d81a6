# frag.py KIND: sends, on eth0, a TCP SYN to fd00:1::3 port 5555 from fd00:1::2 in fragments
import sys
from scapy.all import *
conf.verb = 0
A, BR = sys.argv[2], sys.argv[3]
src, dst = 'fd00:1::2', 'fd00:1::3'
e = Ether(src=A, dst=BR)
kind = sys.argv[1]
pid = {'atomic': 101, 'split': 102, 'tiny': 103, 'overlap': 104}[kind]
if kind == 'atomic':   # one fragment: offset 0, M=0
    pk = [IPv6(src=src, dst=dst)/IPv6ExtHdrFragment(offset=0, m=0, id=pid)/TCP(sport=40001, dport=5555, flags='S')]
elif kind == 'split':  # TCP header in the first fragment, data split
    full = IPv6(src=src, dst=dst)/IPv6ExtHdrFragment(id=pid)/TCP(sport=40002, dport=5555, flags='S')/Raw(b'x'*64)
    pk = fragment6(full, 96)
elif kind == 'tiny':   # first fragment: only an 8-byte dest-options header; TCP header (ports) in the second
    raw = bytes(IPv6(src=src, dst=dst)/IPv6ExtHdrDestOpt()/TCP(sport=40003, dport=5555, flags='S'))[40:]
    pk = [IPv6(src=src, dst=dst, nh=44)/IPv6ExtHdrFragment(nh=60, offset=0, m=1, id=pid)/Raw(raw[:8]),
          IPv6(src=src, dst=dst, nh=44)/IPv6ExtHdrFragment(nh=60, offset=1, m=0, id=pid)/Raw(raw[8:])]
elif kind == 'overlap':  # fragment 1 says dport 80, fragment 2 (same offset 0, M=1) says 5555, fragment 3 ends it
    r80 = bytes(IPv6(src=src, dst=dst)/TCP(sport=40004, dport=80, flags='S')/Raw(b'y'*12))[40:]
    r55 = bytes(IPv6(src=src, dst=dst)/TCP(sport=40004, dport=5555, flags='S')/Raw(b'y'*12))[40:]
    pk = [IPv6(src=src, dst=dst, nh=44)/IPv6ExtHdrFragment(nh=6, offset=0, m=1, id=pid)/Raw(r80[:24]),
          IPv6(src=src, dst=dst, nh=44)/IPv6ExtHdrFragment(nh=6, offset=0, m=1, id=pid)/Raw(r55[:24]),
          IPv6(src=src, dst=dst, nh=44)/IPv6ExtHdrFragment(nh=6, offset=3, m=0, id=pid)/Raw(r55[24:])]
for p in pk:
    sendp(e/p, iface='eth0')
