#!/usr/bin/env bash
# Installs what building and testing moat needs (Debian 12). Run as root.
# Quiet and idempotent: when every package is already installed, apt is not
# touched at all, so a second run takes a fraction of a second.
set -euo pipefail

packages=(
  # build
  gcc make pkg-config libc6-dev clang-format clang libclang-rt-14-dev
  libjansson-dev libnl-3-dev libnl-route-3-dev libnftnl-dev libmnl-dev
  libseccomp-dev libsodium-dev libcmocka-dev libcurl4-openssl-dev
  # tests
  bats jq valgrind procps scdoc python3-yaml groff-base man-db
  podman docker.io iperf3 sockperf
  nftables iproute2 iputils-ping socat busybox-static curl
  runc containernetworking-plugins iptables python3
  coreutils util-linux
  # bats/containerd.bats: the engine, and node for its CRI client (hack/cri)
  containerd nodejs
  # make deb (dpkg-shlibdeps, fakeroot) and its test (lintian)
  dpkg-dev fakeroot lintian
  # run: a network's name server ("names"; not `dnsmasq`, whose service
  # starts host-wide on install)
  dnsmasq-base
  # cluster mode (docs/cluster.md): the store, and its client for tests
  etcd-server etcd-client
  # bats/cluster-wg.bats reads the WireGuard devices moat sets (wg show)
  wireguard-tools
)

# The CRI client of bats/containerd.bats: hack/cri's npm modules, from its
# lockfile (npm ci); nothing is done when they are newer than the lockfile.
# Debian's nodejs comes without npm (nodesource's has it): then the npm
# package.
cri_client() {
  local dir log
  dir=$(cd "$(dirname "$0")" && pwd)/cri
  if [[ $dir/node_modules/.package-lock.json -nt $dir/package-lock.json ]]; then
    return 0
  fi
  log=$(mktemp /tmp/moat-install-deps.XXXXXX.log)
  if ! command -v npm >/dev/null 2>&1; then
    apt-get install -y -qq --no-install-recommends npm >"$log" 2>&1 </dev/null || {
      echo "install-deps: apt-get install npm failed; log follows ($log)" >&2
      cat "$log" >&2
      exit 1
    }
  fi
  (cd "$dir" && npm ci --silent --no-audit --no-fund) >"$log" 2>&1 </dev/null || {
    echo "install-deps: npm ci in $dir failed; log follows ($log)" >&2
    cat "$log" >&2
    exit 1
  }
  rm -f "$log"
  echo "install-deps: CRI client modules installed in $dir"
}

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  if [[ $status != ii* ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  cri_client
  exit 0
fi

if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -- "$0" "$@"
  fi
  echo "install-deps: missing ${missing[*]}; run as root" >&2
  exit 1
fi

log=$(mktemp /tmp/moat-install-deps.XXXXXX.log)
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! {
  apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
} >"$log" 2>&1 </dev/null; then
  echo "install-deps: apt-get failed; log follows ($log)" >&2
  cat "$log" >&2
  exit 1
fi
rm -f "$log"
cri_client
echo "install-deps: done"
