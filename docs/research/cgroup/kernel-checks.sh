#!/usr/bin/env bash
# cgroup v2 socket matching experiment (research for issue 20), TAP.
if [[ ${1-} != --inner ]]; then
  exec unshare --net --mount --propagation private "$0" --inner "$@"
fi
n=0
check() { local name=$1 out rc=0; shift; n=$((n+1)); out=$("$@" 2>&1) || rc=$?; if ((rc==0)); then echo "ok $n $name"; else echo "not ok $n $name"; printf '%s\n' "$out" | sed 's/^/# /'; fi; }
echo "# kernel $(uname -r)"
mount | grep cgroup | sed 's/^/# /'
CG=/tmp/cg2; mkdir -p $CG; mount -t cgroup2 none $CG 2>/dev/null || true
mkdir -p $CG/moat/app
ip link set lo up; ip addr add 10.77.0.1/32 dev lo
ID=$(stat -c %i $CG/moat/app)
echo "# cgroup id (inode) $ID"
check "nft: socket cgroupv2 set, concat with daddr, in output and input" nft -f - <<NFT
table inet t {
  set cg { type cgroupsv2; }
  set cgd { typeof socket cgroupv2 level 2 . ip daddr; }
  chain out { type filter hook output priority 0;
    socket cgroupv2 level 2 . ip daddr @cgd counter accept
    socket cgroupv2 level 2 @cg counter reject
  }
  chain in { type filter hook input priority 0;
    tcp dport 7000 socket cgroupv2 level 2 @cg counter
  }
}
NFT
hexid=$(printf '0x%016x' "$ID")
# nft resolves names under /sys/fs/cgroup; the guest mounts cgroup2 there.
check "element by path" nft add element inet t cg '{ "moat/app" }'
check "element by path, concat" nft add element inet t cgd '{ "moat/app" . 10.77.0.1 }'
nft list ruleset | sed 's/^/# /'
check "allowed destination from the cgroup" sh -c "echo \$\$ > $CG/moat/app/cgroup.procs; ping -c1 -W1 10.77.0.1"
check "other destination from the cgroup refused" sh -c "echo \$\$ > $CG/moat/app/cgroup.procs; ! ping -c1 -W1 127.0.0.1"
check "outside the cgroup untouched" ping -c1 -W1 127.0.0.1
sh -c "echo \$\$ > $CG/moat/app/cgroup.procs; exec busybox nc -l -p 7000 -e echo srv" &
sleep 1
echo x | busybox nc -w1 10.77.0.1 7000 >/dev/null
check "inbound SYN to the cgroup's listener matched in input" sh -c "nft list chain inet t in | grep -q 'packets [1-9]'"
nft list ruleset | grep counter | sed 's/^/# /'
echo "1..$n"
