#!/usr/bin/env bats
# `make demo` (hack/demo) end to end, with each engine: it must play the
# seven stories with the flows they promise, say so, finish in under two
# minutes and leave nothing behind; and a demo told to expect the wrong
# thing (MOAT_DEMO_BREAK=1) must fail loudly and still clean up.

load helpers

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# The flows of the seven stories, as "from to proto/port", one per line of
# the demo's output (a flow tried twice is listed twice).
ALLOWED=(
  "host hello tcp/80" "outside host tcp/8080" "host outside tcp/80"
  "client host udp/2222" "client host udp/2222"
  "shop-web shop-db tcp/5432" "host shop-web tcp/80"
  "web db tcp/5432" "web outside udp/53"
  "reporter api tcp/8000"
  "outside published tcp/8081" "host localhost tcp/8081" "shop name:db tcp/5432"
  "outside vault tcp/8000"
)
# (reporter → api is refused before the token and again after its exp.)
REFUSED=(
  "other hello tcp/80" "hello host tcp/8080" "hello outside tcp/80" "hello outside icmp"
  "client host udp/2222" "client host udp/2222"
  "shop-db shop-web tcp/80" "batch shop-web tcp/80" "batch shop-db tcp/5432"
  "web-test db tcp/5432" "db web tcp/80" "web outside tcp/80"
  "reporter api tcp/8000" "reporter api tcp/8000"
  "outside store tcp/5432" "outside shop tcp/80" "snoop shop tcp/80" "snoop published tcp/8081"
  "snoop name:db tcp/5432" "outside vault tcp/8000" "outside vault tcp/8000"
)

# run_demo [VAR=VALUE...]: `make demo` with the given environment; sets
# status, output (as `run` does), ELAPSED (seconds) and WORK (the demo's
# private directory, read from its first line).
run_demo() {
  local t0=$SECONDS
  run env NO_COLOR=1 "$@" timeout 300 make -s -C "$REPO" demo BUILD="$MOAT_BUILD"
  ELAPSED=$((SECONDS - t0))
  WORK=
  if [[ $output =~ moat\ installed\ in\ (/tmp/moatdemo\.[A-Za-z0-9]+)/prefix ]]; then
    WORK=${BASH_REMATCH[1]}
  fi
  printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/demo.out"
}

# flow_lines SIGN: the flow lines marked SIGN (✔ or ✘) as "from to
# proto/port", one a line.
flow_lines() {
  awk -v s="$1" '$1 == s { print $3, $5, $6 }' <<<"$output"
}

# count_of LINE LINES: how many times LINE is among LINES.
count_of() { grep -cxF -- "$1" <<<"$2" || true; }

# assert_flows SIGN FLOW...: the lines marked SIGN are exactly FLOW...
assert_flows() {
  local sign=$1 lines f
  shift
  lines=$(flow_lines "$sign")
  assert_eq "$(grep -c . <<<"$lines" || true)" "$#" "number of $sign lines"
  for f in "$@"; do
    [[ $(count_of "$f" "$lines") -ge 1 ]] || fail "no '$sign $f' line in:" "$output"
  done
  # Story 2 tries client → host udp/2222 twice each way.
  assert_eq "$(count_of "client host udp/2222" "$lines")" 2 "'$sign client host udp/2222' lines"
}

# assert_token_expired: the token's grant closed by itself when its exp
# (30 s after signing, in whole seconds) passed: not before, not much later.
assert_token_expired() {
  local t
  [[ $output =~ closed\ by\ itself\ ([0-9]+)\.[0-9]\ s\ after\ the\ token\ was\ signed ]] ||
    fail "the token's grant did not close by itself:" "$output"
  t=${BASH_REMATCH[1]}
  ((t >= 28 && t <= 33)) || fail "the token's grant closed ${t} s after signing (exp: 30 s)"
  assert_eq "$(count_of "reporter api tcp/8000" "$(flow_lines "✘")")" 2 "refused reporter → api lines"
  # Story 7: the envelope token's (exp 20 s after signing).
  [[ $output =~ closed\ by\ itself\ ([0-9]+)\.[0-9]\ s\ after\ the\ envelope\ token\ was\ signed ]] ||
    fail "the envelope token's grant did not close by itself:" "$output"
  t=${BASH_REMATCH[1]}
  ((t >= 18 && t <= 23)) || fail "the envelope token's grant closed ${t} s after signing (exp: 20 s)"
}

assert_headings() {
  local h
  for h in "1. Hello, world" "2. A client that needs the host's udp/2222" \
    "3. A two-tier service" "4. Label-based policy from a Trireme policy file" \
    "5. A token-authorised grant" "6. A published web app that finds its database by name" \
    "7. An outside client let in by an access token" "Summary" "Cleanup"; do
    assert_contains "$output" "━━ $h" "headings"
  done
}

# left_behind: what of the demo is still there, one item a line.
left_behind() {
  local ns
  ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep '^moatdemo' | sed 's/^/link /'
  ip netns list | awk '{ print $1 }' | grep '^moatdemo' | sed 's/^/netns /'
  # The containers' namespaces (podman's cni-…, runc's own) are gone
  # when no namespace holds an address of the demo's range.
  for ns in $(ip netns list | awk '{ print $1 }'); do
    ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q ' 10\.250\.' && echo "netns $ns (10.250.x)"
  done
  find "$MOAT_RUN_DIR/moatdemo" -name '*.json' 2>/dev/null | sed 's/^/record /'
  { nft list table inet moat; nft list table bridge moat; } 2>/dev/null |
    grep -E '10\.250\.|moatdemo' | sed 's/^[[:space:]]*/nft /'
  if [[ -n $WORK ]]; then
    [[ ! -e $WORK ]] || echo "directory $WORK (the private prefix, podman's root)"
    grep -F " $WORK/" /proc/self/mountinfo | sed 's/^/mount /'
    pgrep -af -- "$WORK" | sed 's/^/process /'
  fi
  ip -o addr show | grep ' 10\.250\.' | sed 's/^/address /'
  return 0
}

assert_nothing_behind() {
  [[ -n $WORK ]] || fail "the demo did not say where it installed moat:" "$output"
  assert_eq "$(left_behind)" "" "left behind by the demo"
}

# A demo that played every story as moat promises.
assert_demo_ok() {
  [[ $status -eq 0 ]] || fail "make demo exited $status:" "$output"
  assert_headings
  assert_flows "✔" "${ALLOWED[@]}"
  assert_flows "✘" "${REFUSED[@]}"
  # (the introduction explains the word; a flow marks one with "<<< MISMATCH")
  assert_not_contains "$output" "<<< MISMATCH" "output"
  assert_eq "$(grep -c "moatctl explain: " <<<"$output" || true)" 5 "explain lines"
  assert_contains "$output" "35 flows as promised, 0 mismatches"
  assert_match "$output" "closed by itself [0-9.]+ s after the grant" "the TTL grant"
  assert_match "$output" 'grant "peer [^"]+", by token kid=moatdemo-k1 sub=moatdemo-reporter, expires in [0-9]+ s' \
    "the token's grant"
  assert_token_expired
  ((ELAPSED < 120)) || fail "make demo took ${ELAPSED} s (the limit is 120)"
  assert_nothing_behind
}

setup() {
  [[ $EUID -eq 0 ]] || fail "the demo needs root"
  # Not while another demo runs (or one killed hard left its network).
  [[ -z $(left_behind) ]] || fail "a demo is running or left things behind:" "$(left_behind)"
}

@test "make demo: podman 4 (CNI backend, hooks.d) plays the seven stories as promised and leaves nothing" {
  command -v podman >/dev/null || fail "podman is not installed (hack/install-deps.sh)"
  run_demo MOAT_DEMO_ENGINE=podman
  assert_contains "$output" "moat demo with podman 4." "engine"
  assert_demo_ok
  echo "# podman: ${ELAPSED} s" >&3
}

@test "make demo: runc bundles (hook-driven attach) play the seven stories as promised and leave nothing" {
  run_demo MOAT_DEMO_ENGINE=runc
  assert_contains "$output" "moat demo with runc" "engine"
  assert_demo_ok
  echo "# runc: ${ELAPSED} s" >&3
}

@test "make demo: a promise it does not keep (MOAT_DEMO_BREAK=1) fails with MISMATCH and still cleans up" {
  run_demo MOAT_DEMO_ENGINE=runc MOAT_DEMO_BREAK=1
  [[ $status -ne 0 ]] || fail "make demo exited 0 with a broken promise:" "$output"
  assert_eq "$(grep -c "<<< MISMATCH" <<<"$output" || true)" 1 "MISMATCH lines"
  grep -qE '^ *✘ refused +other +→ hello +tcp/80 .*MISMATCH: moat promises allowed$' <<<"$output" ||
    fail "no MISMATCH line for other → hello in:" "$output"
  assert_contains "$output" "34 flows as promised, 1 mismatches"
  # The rest of the demo went on and kept its promises.
  assert_headings
  assert_flows "✔" "${ALLOWED[@]}"
  assert_flows "✘" "${REFUSED[@]}"
  assert_nothing_behind
}

@test "hack/demo: an unknown engine is refused before anything is made" {
  run env MOAT_DEMO_ENGINE=docker MOAT_BUILD="$MOAT_BUILD" "$REPO/hack/demo"
  [[ $status -ne 0 ]] || fail "hack/demo accepted MOAT_DEMO_ENGINE=docker:" "$output"
  assert_contains "$output" "MOAT_DEMO_ENGINE: 'docker' is neither podman nor runc"
  assert_eq "$(left_behind)" "" "left behind"
  assert_eq "$(find /tmp -maxdepth 1 -name 'moatdemo.*' -newer "$BATS_TEST_TMPDIR" 2>/dev/null)" "" \
    "work directories"
}

# demo_build_output [MAKE ARGS...]: make demo's output up to hack/demo (told
# an unknown engine, so it stops at once), with one object of a private copy
# of the build out of date, so that something is compiled.
demo_build_output() {
  local b=$BATS_TEST_TMPDIR/build
  rm -rf "$b"
  cp -a "$MOAT_BUILD" "$b"
  touch -d '2000-01-01' "$b/runtime/main.o"
  # As a user types it, in the tree (no -C: no "Entering directory"), and
  # not as a sub-make of make test (MAKELEVEL would turn -w on).
  cd "$REPO" || return
  run env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS NO_COLOR=1 MOAT_DEMO_ENGINE=docker timeout 300 \
    make demo BUILD="$b" "$@"
  [[ $status -ne 0 ]] || fail "make demo accepted MOAT_DEMO_ENGINE=docker:" "$output"
  assert_contains "$output" "MOAT_DEMO_ENGINE: 'docker' is neither podman nor runc"
  [[ $b/runtime/main.o -nt $REPO/runtime/main.c ]] || fail "runtime/main.o was not rebuilt"
}

@test "make demo: the build prints no command, only one line; V=1 shows them" {
  demo_build_output
  assert_contains "$output" "demo: building moat in $BATS_TEST_TMPDIR/build/ (V=1 shows the commands)"
  assert_not_contains "$output" "runtime/main.o" "output"
  assert_not_contains "$output" "make[" "output"
  assert_not_contains "$output" "hack/install-deps.sh" "output"
  # Nothing but that line, install-deps' one line, hack/demo's error and
  # make's line for it.
  assert_eq "$(grep -cvE '^(demo: building|install-deps: |make: \*\*\* )|MOAT_DEMO_ENGINE' <<<"$output" || true)" 0 \
    "other lines in: $output"
  demo_build_output V=1
  assert_contains "$output" "-c -o $BATS_TEST_TMPDIR/build/runtime/main.o runtime/main.c"
}
