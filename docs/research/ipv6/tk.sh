#!/usr/bin/env bash
# trimmed copy of /work/main/hack/test-kernels: boots the cached Debian 6.1 kernel and runs /var/tmp/v6r/guest.sh
set -euo pipefail
pkg=linux-image-6.1.0-57-amd64-unsigned
root=/work/main/build/kernels/$pkg/root
rel=$(ls $root/lib/modules)
busybox=/bin/busybox
outdir=$(mktemp -d /var/tmp/v6r/run.XXXXXX)
# The modules /init loads to reach this machine's / over 9p, in order.
INIT_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

# module_closure RELEASE_DIR NAME...: the paths (relative to RELEASE_DIR)
# of the named modules and everything they depend on, from modules.dep.
module_closure() {
  local mdir=$1 name path dep
  shift
  declare -A seen=()
  local -a todo=()
  for name in "$@"; do
    path=$(grep -oE "^[^:]*/$name\.ko:" "$mdir/modules.dep" | tr -d :) || continue
    todo+=("$path")
  done
  while ((${#todo[@]})); do
    path=${todo[0]}
    todo=("${todo[@]:1}")
    [[ -z ${seen[$path]-} ]] || continue
    seen[$path]=1
    echo "$path"
    # shellcheck disable=SC2013 # the deps are words on one line
    for dep in $(grep -E "^$path:" "$mdir/modules.dep" | cut -d: -f2); do
      todo+=("$dep")
    done
  done
}

# make_initramfs PACKAGE RELEASE OUT
make_initramfs() {
  local root=$cache/$1/root rel=$2 out=$3 stage path
  local mdir=$root/lib/modules/$rel
  stage=$(mktemp -d /tmp/moat-kinit.XXXXXX)
  mkdir -p "$stage"/{bin,proc,sys,dev,host,out,upper,newroot} "$stage/lib/modules/$rel"
  cp "$busybox" "$stage/bin/busybox"
  cp "$mdir/modules.dep" "$mdir/modules.alias" "$stage/lib/modules/$rel/"
  for path in $(module_closure "$mdir" "${INIT_MODULES[@]}"); do
    mkdir -p "$stage/lib/modules/$rel/${path%/*}"
    cp "$mdir/$path" "$stage/lib/modules/$rel/$path"
  done
  echo "${INIT_MODULES[*]}" >"$stage/lib/modules/init-order"
  write_init >"$stage/init"
  chmod +x "$stage/init"
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
  rm -rf "$stage"
}

# The guest's /init: this machine's / (9p, read-only) under a tmpfs
# overlay, the guest kernel's modules at /lib/modules, then
# hack/test-kernels-guest as the new root (switch_root); power off when it
# is done.
write_init() {
  cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/init-order); do
  modprobe $m 2>/dev/null || [ -d /sys/module/$m ] || echo "init: modprobe $m failed"
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /host || echo "init: no 9p host"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out || echo "init: no 9p out"
mount -t tmpfs -o size=70% tmpfs /upper
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/host,upperdir=/upper/u,workdir=/upper/w /newroot ||
  echo "init: overlay failed"
. /out/env
for d in proc sys dev run tmp out; do mkdir -p /newroot/$d; done
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
ln -s /proc/self/fd /newroot/dev/fd
ln -s fd/0 /newroot/dev/stdin; ln -s fd/1 /newroot/dev/stdout; ln -s fd/2 /newroot/dev/stderr
mount -t tmpfs tmpfs /newroot/run
mount -t tmpfs tmpfs /newroot/tmp
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup
mount --bind /out /newroot/out
mkdir -p /newroot/lib/modules
ln -sfn "$KMODS" "/newroot/lib/modules/$(uname -r)"
# switch_root, not chroot: runc's pivot_root needs a real root, else a
# container's / is this initramfs.
exec switch_root /newroot /bin/bash -c '"$1" >/out/tap 2>&1
echo "init: guest script exited $?" >>/out/tap
sync
/bin/busybox poweroff -f' init "$GUEST"
EOF
}

cache=/work/main/build/kernels
make_initramfs "$pkg" "$rel" "$outdir/initrd.gz"
cat >"$outdir/env" <<EOT
KMODS='$root/lib/modules/$rel'
GUEST='/var/tmp/v6r/guest.sh'
export V6R_TESTS='${V6R_TESTS:-}'
EOT
: >"$outdir/tap"
echo "outdir $outdir"
timeout 3000 qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 1536 -nographic -no-reboot -nic none \
  -kernel "$root/boot/vmlinuz-$rel" -initrd "$outdir/initrd.gz" -append "console=ttyS0 panic=-1 quiet" \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$outdir,mount_tag=out,security_model=none,multidevs=remap" </dev/null >"$outdir/console.log" 2>&1 || echo "qemu rc $?"
cat "$outdir/tap"
