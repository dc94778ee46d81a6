#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031 # single-quoted formats, jq and sh -c programs; bats subshells
# make deb: the package's name, control fields and contents; lintian; and
# `apt install ./moat_*.deb`, a flow through the installed plugin, runc
# containers attached by the installed hook, then `apt remove` and
# `apt purge`, for real, in a throwaway root
# (hack/deb-root: the host's /usr, /etc and /var under overlays, so apt and
# dpkg see the host's packages while the host is left untouched). The
# package is built once, with its own build directory.

load helpers
load runc

# Where the package puts each binary (hack/make-deb says why).
declare -gA INSTALLED=(
  [moat]=usr/lib/cni/moat
  [moat-hook]=usr/libexec/moat/moat-hook
  [moatctl]=usr/bin/moatctl
  [moat-runtime]=usr/bin/moat-runtime
)
HOOK=/usr/libexec/moat/moat-hook

setup_file() {
  SRC=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
  local out
  out=$(make -s -C "$SRC" deb DEB_OUT="$BATS_FILE_TMPDIR/out" \
    DEB_BUILD="$BATS_FILE_TMPDIR/build" 2>&1) || {
    echo "make deb failed: $out" >&2
    return 1
  }
  DEB=$(tail -n1 <<<"$out")
  export SRC DEB
}

setup() {
  [[ -f $DEB ]] || fail "no package: $DEB"
}

teardown() {
  runc_teardown
  teardown_moat_net
}

# The value of control field $1.
field() { dpkg-deb -f "$DEB" "$1"; }

# The package's files (not directories), without the leading "./", sorted.
deb_files() {
  dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print $6 }' | LC_ALL=C sort
}

# The files the package must hold, from the tree: binaries, man pages
# (gzipped), hooks.d JSON, conf/ under usr/share/moat, the Debian docs.
expected_files() {
  local b f
  for b in "${!INSTALLED[@]}"; do echo "${INSTALLED[$b]}"; done
  for f in "$SRC"/man/*.scd; do
    f=${f##*/}
    f=${f%.scd}
    echo "usr/share/man/man${f##*.}/$f.gz"
  done
  echo usr/share/containers/oci/hooks.d/50-moat-prestart.json
  echo usr/share/containers/oci/hooks.d/50-moat-poststop.json
  (cd "$SRC/conf" && find . -type f | sed 's|^\./|usr/share/moat/|')
  echo usr/share/doc/moat/copyright
  echo usr/share/doc/moat/changelog.gz
  echo usr/share/lintian/overrides/moat
}

# A throwaway root with the package installed by apt, in $1.
install_into() {
  local dir=$1
  mkdir -p "$dir/in"
  cp "$DEB" "$dir/in/"
  # As the README says it (apt, not apt-get); the Recommends are installed
  # here already (hack/install-deps.sh), so nothing is downloaded.
  run -0 "$SRC/hack/deb-root" "$dir" sh -c 'cd /in && apt install -y ./moat_*.deb'
  run -0 "$SRC/hack/deb-root" "$dir" dpkg-query -W -f '${db:Status-Abbrev}${Version}' moat
  assert_eq "$output" "ii $(field Version)" "moat in the root's dpkg database"
}

# Nothing of the package in root $1: dpkg knows no moat, and every path in
# the upper layers is either the host's own (a directory the host has, or
# a file the host has that dpkg/apt rewrote: logs, database, caches), none
# named after moat.
assert_nothing_of_package() {
  local dir=$1 p rel
  run "$SRC/hack/deb-root" "$dir" dpkg-query -W -f '${db:Status-Abbrev}' moat
  [[ $status -ne 0 || $output == "un " || -z $output ]] ||
    fail "moat still known to dpkg: $output"
  while IFS= read -r p; do
    rel=${p#"$dir"/upper/}
    [[ $rel != *moat* ]] || fail "left in the root: /$rel"
    if [[ -d $p && ! -L $p ]]; then
      [[ -d /$rel ]] || fail "directory left in the root: /$rel"
    else
      [[ $rel == var/log/* || $rel == var/cache/* || $rel == var/lib/dpkg/* ||
        $rel == var/lib/apt/* ]] || fail "file left in the root: /$rel"
    fi
  done < <(find "$dir/upper" -mindepth 2)
  if grep -q '^Package: moat$' "$dir/upper/var/lib/dpkg/status" 2>/dev/null; then
    fail "moat still in the root's dpkg status"
  fi
}

@test "deb: named moat_VERSION_ARCH.deb; control fields" {
  local version arch
  version=$(sed -n 's/^VERSION *?= *//p' "$SRC/Makefile")
  arch=$(dpkg --print-architecture)
  assert_eq "${DEB##*/}" "moat_${version}_$arch.deb" "package file name"
  assert_eq "$(field Package)" moat
  assert_eq "$(field Version)" "$version" Version
  assert_eq "$(field Architecture)" "$arch" Architecture
  assert_eq "$(field Section)" net Section
  assert_eq "$(field Priority)" optional Priority
  assert_match "$(field Maintainer)" '^[^<>]+ <[^<>@]+@[^<>@]+>$' Maintainer
  assert_match "$(field Installed-Size)" '^[0-9]+$' Installed-Size
  assert_match "$(field Description)" '^default-deny network isolation for containers' Description
  # Depends: the shared libraries dpkg-shlibdeps found, and the name server
  # moat execs (/usr/sbin/dnsmasq).
  local depends
  depends=$(field Depends)
  assert_match "$depends" '(^|, )libc6 \(>= [^)]+\)' Depends
  assert_match "$depends" '(^|, )libmnl0 ' Depends
  assert_match "$depends" '(^|, )dnsmasq-base(,|$)' Depends
  # Statically linked libraries are named in Built-Using (the default
  # STATIC=1), not in Depends.
  assert_match "$(field Built-Using)" 'libnftnl \(= [^)]+\)' Built-Using
  assert_match "$(field Built-Using)" 'libseccomp \(= [^)]+\)' Built-Using
  assert_match "$(field Built-Using)" 'libsodium \(= [^)]+\)' Built-Using
  assert_not_contains "$depends" libnftnl Depends
  assert_not_contains "$depends" libseccomp Depends
}

@test "deb: contents: every file, its mode and owner, binaries stripped, pages gzipped" {
  assert_eq "$(deb_files)" "$(expected_files | LC_ALL=C sort)" "files in the package"
  local line mode owner path
  while read -r mode owner _ _ _ path; do
    path=${path#./}
    assert_eq "$owner" root/root "owner of $path"
    case $path in
    */ | '') ;;
    usr/lib/cni/* | usr/libexec/* | usr/bin/* | usr/share/moat/kubernetes/install-moat)
      assert_eq "$mode" -rwxr-xr-x "mode of $path"
      ;;
    *) assert_eq "$mode" -rw-r--r-- "mode of $path" ;;
    esac
  done < <(dpkg-deb -c "$DEB")
  local x=$BATS_TEST_TMPDIR/x b
  dpkg-deb -x "$DEB" "$x"
  for b in "${!INSTALLED[@]}"; do
    run -0 readelf -S --wide "$x/${INSTALLED[$b]}"
    assert_not_contains "$output" " .symtab " "$b: stripped"
    assert_not_contains "$output" " .debug_info " "$b: stripped"
    # Debian's hardening: full RELRO (bind now) and a PIE.
    run -0 readelf -d --wide "$x/${INSTALLED[$b]}"
    assert_contains "$output" BIND_NOW "$b: bind now"
    assert_contains "$output" PIE "$b: PIE"
  done
  for line in "$x"/usr/share/man/man*/*.gz; do
    run -0 gzip -t "$line"
    run -0 bash -c 'gzip -dc "$1" | head -c4' _ "$line"
    assert_eq "$output" ".\\\" " "$line: a page"
  done
  # The examples are the tree's conf/, byte for byte, but for the paths of
  # the binaries in those an operator copies as they are (hack/make-deb).
  while IFS= read -r line; do
    if [[ $line == *.md || $line == kubernetes/* ]]; then
      cmp -s "$x/usr/share/moat/$line" "$SRC/conf/$line" || fail "usr/share/moat/$line differs from conf/"
    else
      assert_eq "$(cat "$x/usr/share/moat/$line")" \
        "$(sed -e 's|/usr/local/bin/|/usr/bin/|g' -e 's|/usr/local/libexec/|/usr/libexec/|g' "$SRC/conf/$line")" \
        "usr/share/moat/$line"
    fi
  done < <(cd "$SRC/conf" && find . -type f | sed 's|^\./||')
  run -0 zcat "$x/usr/share/doc/moat/changelog.gz"
  assert_match "${lines[0]}" "^moat \\($(field Version)\\) "
  assert_contains "$(cat "$x/usr/share/doc/moat/copyright")" "License: Apache-2.0"
}

@test "deb: lintian reports nothing, with --display-info --pedantic" {
  command -v lintian >/dev/null || fail "lintian not installed (hack/install-deps.sh)"
  run --separate-stderr lintian --display-info --pedantic "$DEB"
  assert_eq "$status" 0 "lintian exit"
  assert_eq "$output" "" "lintian tags"
}

@test "deb: apt install into a throwaway root; the installed binaries and hooks.d JSON" {
  local dir=$BATS_TEST_TMPDIR/root b stage f
  install_into "$dir"
  for b in "${!INSTALLED[@]}"; do
    run -0 "$SRC/hack/deb-root" "$dir" "/${INSTALLED[$b]}" --version
    assert_match "$output" "^$b (version )?$(field Version)" "$b --version"
  done
  run -0 "$SRC/hack/deb-root" "$dir" moatctl --help
  assert_contains "$output" "moatctl"
  # moat-runtime adds the installed hook to a container that asks for moat
  # (then runs the runtime: here true).
  local config='{"ociVersion": "1.0.2", "root": {"path": "/"},
    "process": {"args": ["sh"], "cwd": "/", "env": ["MOAT_NETWORK=n"]}}'
  run -0 "$SRC/hack/deb-root" "$dir" sh -c 'mkdir /tmp/b && printf "%s" "$1" >/tmp/b/config.json &&
    moat-runtime --moat-runtime /bin/true create --bundle /tmp/b c1 && cat /tmp/b/config.json' \
    _ "$config"
  assert_jq "$output" '[.hooks.prestart[], .hooks.poststop[] | .path == $h] | length == 2 and all' \
    --arg h "$HOOK"
  for stage in prestart poststop; do
    f=$dir/upper/usr/share/containers/oci/hooks.d/50-moat-$stage.json
    [[ -f $f ]] || fail "no hooks.d file for $stage"
    assert_jq "$(cat "$f")" '.hook.path == $h and .stages == [$s]' --arg h "$HOOK" --arg s "$stage"
  done
  [[ -x $dir/upper$HOOK ]] || fail "the hook the hooks.d JSON names is not installed"
  # The docker and systemd examples name the installed binaries.
  local daemon=$dir/upper/usr/share/moat/docker/daemon.json unit
  f=$(jq -r '.runtimes.moat.path' "$daemon")
  [[ -x $dir/upper$f ]] || fail "docker/daemon.json names $f: not installed"
  f=$(jq -r '.runtimes.moat.runtimeArgs | index("--moat-hook") as $i | .[$i + 1]' "$daemon")
  assert_eq "$f" "$HOOK" "docker/daemon.json --moat-hook"
  for unit in "$dir"/upper/usr/share/moat/systemd/*.service; do
    f=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
    [[ -x $dir/upper$f ]] || fail "${unit##*/} runs $f: not installed"
  done
  # The man pages are found by man.
  run -0 "$SRC/hack/deb-root" "$dir" env MANWIDTH=80 man -P cat 8 moat
  assert_contains "$output" "SEE ALSO"
}

@test "deb: a flow through the installed plugin: ADD, traffic, moatctl ls, DEL, nothing left" {
  local dir=$BATS_TEST_TMPDIR/root links_before ip1 port
  install_into "$dir"
  export MOAT_RUN_DIR=$BATS_TEST_TMPDIR/run
  # shellcheck disable=SC2034 # the plugin helpers.bash's cni runs
  MOAT=$dir/upper/${INSTALLED[moat]}
  setup_moat_net
  links_before=$(moat_links)
  add_container c1
  add_container c2
  ip1=$(ip_of c1)
  port=$(random_port)
  ns_tcp_listen "$(ns_of c1)" "$ip1" "$port"
  # The host may open connections to its containers; containers may not
  # reach each other unless something opens it.
  PROBE_TOKEN=deb-host run -0 ns_tcp_connect host "$ip1" "$port"
  PROBE_TOKEN=deb-c2 run ns_tcp_connect "$(ns_of c2)" "$ip1" "$port"
  [[ $output == refused || $output == unreachable || $output == timeout ]] ||
    fail "c2 -> c1: want refused, got $output"
  run -0 "$dir/upper/${INSTALLED[moatctl]}" ls
  assert_contains "$output" "$(cid_of c1)"
  assert_contains "$output" "$(cid_of c2)"
  del_container c1
  del_container c2
  assert_nothing_left "$links_before" "$(ns_of c1)" "$(ns_of c2)"
}

@test "deb: runc containers attached by the installed hook, at the path hooks.d names: labels" {
  local dir=$BATS_TEST_TMPDIR/root port c
  install_into "$dir"
  export MOAT_RUN_DIR=$BATS_TEST_TMPDIR/run
  # shellcheck disable=SC2034 # the plugin helpers.bash's cni runs
  MOAT=$dir/upper/${INSTALLED[moat]}
  setup_moat_net
  runc_setup
  mkdir -p "$T/networks"
  jq -n --arg n "$NET" --arg br "$BR" --arg sub "$SUBNET" '{cniVersion: "1.0.0", name: $n,
    plugins: [{type: "moat", bridge: $br, subnet: $sub}]}' >"$T/networks/50-moat.conflist"
  export CTR_NETNS=new CTR_HOOK_ENV="MOAT_NETWORK_DIRS=$T/networks"
  CTR_HOOK=$dir/upper$(jq -r .hook.path "$dir/upper/usr/share/containers/oci/hooks.d/50-moat-prestart.json")
  export CTR_HOOK
  ctr_start web1 "io.moat.network=$NET" io.moat.labels=app=web
  ctr_start web2 "io.moat.network=$NET" io.moat.labels=app=web
  ctr_start db "io.moat.network=$NET" io.moat.labels=app=db
  port=$(random_port)
  for c in web1 web2 db; do ctr_tcp_listen "$c" "$port"; done
  run ctr_tcp_connect web2 "$(ctr_ip web1)" "$port"
  assert_eq "$output" ok "web2 -> web1"
  run ctr_tcp_connect db "$(ctr_ip web1)" "$port"
  assert_eq "$output" refused "db -> web1"
  for c in web1 web2 db; do ctr_delete "$c"; done
  assert_eq "$(network_records)" "" "records left after runc delete"
}

@test "deb: apt install of a newer package upgrades it in place; purge then leaves nothing" {
  local dir=$BATS_TEST_TMPDIR/root newer b
  install_into "$dir"
  run -0 make -s -C "$SRC" deb VERSION=99.0.0 DEB_OUT="$BATS_TEST_TMPDIR/newer" \
    DEB_BUILD="$BATS_TEST_TMPDIR/build"
  newer=${lines[-1]}
  cp "$newer" "$dir/in/"
  run -0 "$SRC/hack/deb-root" "$dir" sh -c "cd /in && apt install -y ./${newer##*/}"
  assert_contains "$output" "Unpacking moat (99.0.0) over ($(field Version))"
  run -0 "$SRC/hack/deb-root" "$dir" dpkg-query -W -f '${db:Status-Abbrev}${Version}' moat
  assert_eq "$output" "ii 99.0.0" "moat in the root's dpkg database"
  for b in "${!INSTALLED[@]}"; do
    run -0 "$dir/upper/${INSTALLED[$b]}" --version
    assert_match "$output" "^$b (version )?99\\.0\\.0" "$b --version after the upgrade"
  done
  run -0 "$SRC/hack/deb-root" "$dir" apt purge -y moat
  assert_nothing_of_package "$dir"
}

@test "deb: apt remove, and apt purge: nothing of the package left in the root" {
  local dir verb
  for verb in remove purge; do
    dir=$BATS_TEST_TMPDIR/$verb
    install_into "$dir"
    [[ -n $(find "$dir/upper" -path '*moat*' -print -quit) ]] || fail "installed nothing?"
    run -0 "$SRC/hack/deb-root" "$dir" apt "$verb" -y moat
    assert_nothing_of_package "$dir"
  done
}
