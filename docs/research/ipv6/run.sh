#!/bin/bash
# run.sh SCRIPT: runs SCRIPT in a private net + mount namespace with its own /run/netns
if [[ ${1-} != --inner ]]; then exec unshare --net --mount --propagation private "$0" --inner "$@"; fi
shift
mount -t tmpfs tmpfs /run; mkdir -p /run/netns
ip link set lo up
exec bash "$@"
