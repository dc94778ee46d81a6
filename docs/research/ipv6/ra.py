# ra.py IFACE SRCMAC [lifetime]: one router advertisement (prefix 2001:db8:1::/64, SLAAC) to ff02::1
import sys
from scapy.all import Ether, IPv6, ICMPv6ND_RA, ICMPv6NDOptSrcLLAddr, ICMPv6NDOptPrefixInfo, sendp, conf
conf.verb = 0
iface, mac = sys.argv[1], sys.argv[2]
life = int(sys.argv[3]) if len(sys.argv) > 3 else 1800
p = (Ether(dst='33:33:00:00:00:01', src=mac) / IPv6(src='fe80::99', dst='ff02::1', hlim=255)
     / ICMPv6ND_RA(routerlifetime=life) / ICMPv6NDOptSrcLLAddr(lladdr=mac)
     / ICMPv6NDOptPrefixInfo(prefix='2001:db8:1::', prefixlen=64, L=1, A=1, validlifetime=86400, preferredlifetime=14400))
sendp(p, iface=iface)
