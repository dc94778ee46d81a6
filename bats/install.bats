#!/usr/bin/env bats
# make install / uninstall into a private DESTDIR: every binary, hooks.d
# file, man page and example configuration in its place, the hooks.d files
# valid oci-hooks(5) 1.0.0, every man page rendering without a warning, and
# uninstall taking it all back.

load helpers

BINARIES=(moat moat-hook moatctl moat-runtime)
PAGES=(moat.8 moat-hook.8 moatctl.8 moat-runtime.8 moat-annotations.5)

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  SRC=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
}

install_into() {
  make -s -C "$SRC" BUILD="$MOAT_BUILD" DESTDIR="$ROOT" PREFIX=/usr/local "$@"
}

# Every page man/*.scd makes, as NAME.SECTION.
pages_of_source() {
  local f
  for f in "$SRC"/man/*.scd; do
    f=${f##*/}
    echo "${f%.scd}"
  done
}

# Files (and links) under $1, relative, sorted.
files_under() {
  (cd "$1" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort)
}

# Nothing under $ROOT (DESTDIR, which install made): no file, and no
# directory, since install made them all.
assert_no_files_left() {
  run -0 find "$ROOT" ! -type d
  assert_eq "$output" "" "files left after uninstall"
  run -0 find "$ROOT" -mindepth 1
  assert_eq "$output" "" "directories left after uninstall"
}

@test "install: binaries, hook and hooks.d files in place; uninstall removes them" {
  run -0 install_into install
  [[ -x $ROOT/opt/cni/bin/moat ]] || fail "no $ROOT/opt/cni/bin/moat"
  [[ -x $ROOT/usr/local/libexec/moat/moat-hook ]] || fail "no moat-hook"
  [[ -x $ROOT/usr/local/bin/moatctl ]] || fail "no moatctl"
  [[ -x $ROOT/usr/local/bin/moat-runtime ]] || fail "no moat-runtime"
  local stage f
  for stage in prestart poststop; do
    f=$ROOT/usr/share/containers/oci/hooks.d/50-moat-$stage.json
    [[ -f $f ]] || fail "no $f"
    assert_jq "$(cat "$f")" '.version == "1.0.0"'
    assert_jq "$(cat "$f")" '.hook.path == "/usr/local/libexec/moat/moat-hook"'
    assert_jq "$(cat "$f")" '.hook.args == ["moat-hook", $s] and .stages == [$s]' --arg s "$stage"
    assert_jq "$(cat "$f")" '.when.annotations | keys == ["^io\\.moat\\."]'
    assert_jq "$(cat "$f")" '(.hook.timeout | type) == "number"'
  done
  run -0 "$ROOT/usr/local/libexec/moat/moat-hook" --version
  assert_contains "$output" "moat-hook"
  run -0 install_into uninstall
  assert_no_files_left
}

@test "install: every binary is the one built and answers --version" {
  run -0 install_into install
  local b path
  for b in "${BINARIES[@]}"; do
    case $b in
    moat) path=$ROOT/opt/cni/bin/moat ;;
    moat-hook) path=$ROOT/usr/local/libexec/moat/moat-hook ;;
    *) path=$ROOT/usr/local/bin/$b ;;
    esac
    [[ -x $path ]] || fail "$b: not installed at $path"
    cmp -s "$path" "$MOAT_BUILD/$b" || fail "$b: $path differs from $MOAT_BUILD/$b"
    run -0 "$path" --version
    assert_contains "$output" "$b" "$b --version"
  done
  run -0 install_into uninstall
  assert_no_files_left
}

@test "install: every man page in man<section>, mode 0644, and the ones we promise" {
  run -0 install_into install
  local page sources f
  sources=$(pages_of_source)
  for page in "${PAGES[@]}"; do
    assert_contains "$sources" "$page" "man/*.scd"
  done
  for page in $sources; do
    f=$ROOT/usr/local/share/man/man${page##*.}/$page
    [[ -f $f ]] || fail "no $f"
    assert_eq "$(stat -c %a "$f")" 644 "mode of $f"
    cmp -s "$f" "$MOAT_BUILD/man/$page" || fail "$f differs from $MOAT_BUILD/man/$page"
    # The title line names the page as it is installed.
    run -0 grep -m1 '^\.TH ' "$f"
    assert_match "$output" "^\\.TH \"?${page%.*}\"? \"?${page##*.}\"?" "$page: .TH"
  done
  run -0 install_into uninstall
  assert_no_files_left
}

@test "install: every man page renders without a warning (groff -ww, man -l)" {
  run -0 install_into install
  local page f
  for page in $(pages_of_source); do
    f=$ROOT/usr/local/share/man/man${page##*.}/$page
    run --separate-stderr groff -t -man -Tutf8 -ww -z "$f"
    assert_eq "$status" 0 "groff $page"
    assert_eq "$stderr$output" "" "groff -ww warnings for $page"
    run --separate-stderr env MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$f"
    assert_eq "$status" 0 "man -l $page"
    assert_eq "$stderr" "" "man --warnings for $page"
    assert_contains "$output" "NAME" "$page rendered"
    assert_contains "$output" "SEE ALSO" "$page rendered"
  done
  run -0 install_into uninstall
  assert_no_files_left
}

@test "install: the example configurations of conf/ in share/moat, readable by all" {
  run -0 install_into install
  local share=$ROOT/usr/local/share/moat f
  [[ -d $share ]] || fail "no $share"
  # (and installed-dirs, what uninstall removes: see the test below)
  assert_eq "$(files_under "$share" | grep -vx installed-dirs)" "$(files_under "$SRC/conf")" "files in share/moat"
  while IFS= read -r f; do
    cmp -s "$share/$f" "$SRC/conf/$f" || fail "$share/$f differs from conf/$f"
    [[ $(stat -c %A "$share/$f") == -rw?r--r-- ]] || [[ $(stat -c %A "$share/$f") == -rwxr-xr-x ]] ||
      fail "$share/$f: mode $(stat -c %A "$share/$f"), want readable by all"
  done < <(files_under "$share" | grep -vx installed-dirs)
  # The JSON examples are JSON.
  for f in "$share"/*.json "$share"/*.conflist "$share"/*/*.json "$share"/*/*.conflist; do
    [[ -e $f ]] || continue
    jq -e . "$f" >/dev/null || fail "$f: not JSON"
  done
  run -0 install_into uninstall
  assert_no_files_left
}

@test "install: PREFIX, MANDIR, CNI_BIN_DIR and HOOKS_DIR are honoured; uninstall with them" {
  local -a vars=(PREFIX=/opt/m MANDIR=/opt/m/man CNI_BIN_DIR=/opt/m/cni HOOKS_DIR=/opt/m/hooks.d)
  run -0 make -s -C "$SRC" BUILD="$MOAT_BUILD" DESTDIR="$ROOT" "${vars[@]}" install
  [[ -x $ROOT/opt/m/cni/moat ]] || fail "no moat in CNI_BIN_DIR"
  [[ -x $ROOT/opt/m/libexec/moat/moat-hook ]] || fail "no moat-hook in PREFIX/libexec/moat"
  [[ -x $ROOT/opt/m/bin/moatctl ]] || fail "no moatctl in PREFIX/bin"
  [[ -x $ROOT/opt/m/bin/moat-runtime ]] || fail "no moat-runtime in PREFIX/bin"
  [[ -f $ROOT/opt/m/man/man8/moat.8 ]] || fail "no moat.8 in MANDIR/man8"
  [[ -f $ROOT/opt/m/man/man5/moat-annotations.5 ]] || fail "no moat-annotations.5 in MANDIR/man5"
  [[ -d $ROOT/opt/m/share/moat ]] || fail "no PREFIX/share/moat"
  assert_jq "$(cat "$ROOT/opt/m/hooks.d/50-moat-prestart.json")" \
    '.hook.path == "/opt/m/libexec/moat/moat-hook"'
  run -0 make -s -C "$SRC" BUILD="$MOAT_BUILD" DESTDIR="$ROOT" "${vars[@]}" uninstall
  assert_no_files_left
}

# in_opt_moat DIR CMD...: runs CMD in a private mount namespace where DIR is
# /opt/moat (a tmpfs over /opt holds the mount point), as if installed there.
in_opt_moat() {
  local dir=$1
  shift
  unshare -m --propagation private bash -c \
    'mount -t tmpfs moat-test /opt && mkdir /opt/moat && mount --bind "$1" /opt/moat && shift && exec "$@"' \
    in_opt_moat "$dir" "$@"
}

@test "install: PREFIX=/opt/moat after a plain build: moat-runtime adds the hook installed with it" {
  [[ $EUID -eq 0 ]] || fail "needs root (a private mount namespace)"
  # The build's default is /usr/local: this install must not rebuild it.
  run -0 "$MOAT_BUILD/moat-runtime" --version
  assert_contains "$output" "hook: /usr/local/libexec/moat/moat-hook" "the build's default"
  run -0 make -s -C "$SRC" BUILD="$MOAT_BUILD" DESTDIR="$ROOT" PREFIX=/opt/moat install
  cmp -s "$ROOT/opt/moat/bin/moat-runtime" "$MOAT_BUILD/moat-runtime" || fail "moat-runtime was rebuilt"
  local want=/opt/moat/libexec/moat/moat-hook stage b=$BATS_TEST_TMPDIR/bundle
  for stage in prestart poststop; do
    assert_jq "$(cat "$ROOT/usr/share/containers/oci/hooks.d/50-moat-$stage.json")" '.hook.path == $p' --arg p "$want"
  done
  # Staged under DESTDIR, it finds the staged hook...
  run -0 "$ROOT/opt/moat/bin/moat-runtime" --version
  assert_contains "$output" "hook: $(realpath "$ROOT")$want" "staged"
  # ... and installed in /opt/moat, the hook the hooks.d files name, which
  # it puts into a container's config.json.
  run -0 in_opt_moat "$ROOT/opt/moat" /opt/moat/bin/moat-runtime --version
  assert_contains "$output" "hook: $want" "installed"
  mkdir "$b"
  echo '{"ociVersion": "1.0.2", "annotations": {"io.moat.network": "moat"}}' >"$b/config.json"
  run -0 in_opt_moat "$ROOT/opt/moat" /opt/moat/bin/moat-runtime --moat-runtime /bin/true \
    create --bundle "$b" moat-test-ctr
  assert_jq "$(cat "$b/config.json")" \
    '[.hooks.prestart[].path, .hooks.poststop[].path] == [$p, $p]' --arg p "$want"
  run -0 in_opt_moat "$ROOT/opt/moat" "$want" --version
  assert_contains "$output" "moat-hook"
  # Not installed next to it (a copy elsewhere): the build's default.
  cp "$MOAT_BUILD/moat-runtime" "$BATS_TEST_TMPDIR/moat-runtime"
  run -0 "$BATS_TEST_TMPDIR/moat-runtime" --version
  assert_contains "$output" "hook: /usr/local/libexec/moat/moat-hook" "a copy elsewhere"
  run -0 make -s -C "$SRC" BUILD="$MOAT_BUILD" DESTDIR="$ROOT" PREFIX=/opt/moat uninstall
  assert_no_files_left
}

@test "install: uninstall removes the directories install made, never one that was there" {
  # There before: a shared bin with another program, an empty hooks.d (a
  # package's), an empty man8.
  mkdir -p "$ROOT/usr/local/bin" "$ROOT/usr/share/containers/oci/hooks.d" "$ROOT/usr/local/share/man/man8"
  echo other >"$ROOT/usr/local/bin/other-tool"
  local before
  before=$(cd "$ROOT" && find . | LC_ALL=C sort)
  run -0 install_into install
  [[ -d $ROOT/opt/cni/bin && -d $ROOT/usr/local/share/man/man5 ]] || fail "install made no directories"
  # A second install (an upgrade) keeps what the first one made.
  run -0 install_into install
  run -0 install_into uninstall
  assert_eq "$(cd "$ROOT" && find . | LC_ALL=C sort)" "$before" "what is left"
  # A directory install made that holds something else by now stays.
  run -0 install_into install
  echo mine >"$ROOT/opt/cni/bin/other-plugin"
  run -0 install_into uninstall
  assert_eq "$(cd "$ROOT" && find opt | LC_ALL=C sort)" $'opt\nopt/cni\nopt/cni/bin\nopt/cni/bin/other-plugin' \
    "a directory install made, not empty"
  [[ ! -e $ROOT/usr/local/libexec ]] || fail "libexec left"
}
