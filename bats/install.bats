#!/usr/bin/env bats
# make install / uninstall into a private DESTDIR: every file in its place,
# the hooks.d files valid oci-hooks(5) 1.0.0, uninstall taking it all back.

load helpers

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  SRC=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
}

install_into() {
  make -s -C "$SRC" BUILD="$MOAT_BUILD" DESTDIR="$ROOT" PREFIX=/usr/local "$@"
}

@test "install: binaries, hook and hooks.d files in place; uninstall removes them" {
  run -0 install_into install
  [[ -x $ROOT/opt/cni/bin/moat ]] || fail "no $ROOT/opt/cni/bin/moat"
  [[ -x $ROOT/usr/local/libexec/moat/moat-hook ]] || fail "no moat-hook"
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
  run -0 find "$ROOT" -type f
  assert_eq "$output" "" "files left after uninstall"
}
