#!/usr/bin/env bats
# The architecture as the folders show it (docs/design.md, "Layers"): no
# include points up a layer, the design's tables name what exists, and the
# code cites the project's own design. No root, no kernel state.

load helpers

setup() {
  SRC=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
}

@test "layers: no include in common/ points up a layer or into a binary's folder" {
  run "$SRC/hack/check-layers" "$SRC"
  [[ $status -eq 0 ]] || fail "$output"
  assert_contains "$output" "every include keeps to its layer"
}

@test "layers: check-layers refuses an upward include, one without its layer, a binary's header" {
  local tree=$BATS_TEST_TMPDIR/tree
  mkdir -p "$tree/hack"
  cp -R "$SRC/common" "$SRC/ctl" "$tree/"
  cp "$SRC/hack/check-layers" "$tree/hack/"
  printf '#include "verbs/cni.h"\n' >>"$tree/common/base/error.c"
  printf '#include "annot.h"\n' >>"$tree/common/model/config.c"
  printf '#include "ctl/grant.h"\n' >>"$tree/common/state/ipam.c"
  run "$tree/hack/check-layers" "$tree"
  [[ $status -eq 1 ]] || fail "exit $status: $output"
  assert_contains "$output" 'common/base/error.c:'
  assert_contains "$output" 'includes "verbs/cni.h": base may include only: base'
  assert_contains "$output" 'includes "annot.h": name the layer ("model/annot.h")'
  assert_contains "$output" 'includes "ctl/grant.h": not a layer of common/'
  assert_contains "$output" "3 include(s) break the layering"
}

@test "layers: every folder and file docs/design.md's tables name exists, every layer is named" {
  local design=$SRC/docs/design.md path n=0
  [[ -f $design ]] || fail "no docs/design.md"
  for path in $(sed -n '/^## Layers/,/^## /p' "$design" | grep '^|' |
    grep -oE '`(common/[a-z]+/|(cni-plugin|oci-hook|ctl|runtime)/)`' | tr -d '`' | sort -u); do
    [[ -d $SRC/$path ]] || fail "docs/design.md names $path, which does not exist"
    n=$((n + 1))
  done
  ((n >= 10)) || fail "only $n folders named in the Layers tables"
  for path in "$SRC"/common/*/; do
    path=${path#"$SRC"/}
    [[ $path == common/tests/ ]] && continue
    grep -qF "\`$path\`" "$design" || fail "docs/design.md does not name $path"
  done
}

@test "layers: comments point at docs/design.md or a header, never at a design the repository lacks" {
  local cite section
  run grep -rnE 'DESIGN §|DESIGN\.md' "$SRC/common" "$SRC/cni-plugin" "$SRC/oci-hook" "$SRC/ctl" \
    "$SRC/runtime" "$SRC/hack" "$SRC/bats" "$SRC/Makefile" --exclude=layers.bats --exclude-dir=corpus
  [[ $status -eq 1 ]] || fail "$output"
  run grep -rhoE 'docs/design\.md, "[^"]+"' "$SRC/common" "$SRC/cni-plugin" "$SRC/oci-hook" \
    "$SRC/ctl" "$SRC/runtime" "$SRC/hack" "$SRC/bats" --exclude=layers.bats --exclude-dir=corpus
  [[ $status -eq 0 ]] || fail "no comment cites docs/design.md"
  while IFS= read -r cite; do
    section=${cite#*\"}
    section=${section%\"}
    grep -qxF "## $section" "$SRC/docs/design.md" || fail "$cite: no such section"
  done <<<"$output"
}
