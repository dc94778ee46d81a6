#!/usr/bin/env bash
# Runs moat's tests and counts their TAP output.
#
#   hack/run-tests.sh unit BIN...      cmocka test binaries (CMOCKA_MESSAGE_OUTPUT=TAP)
#   hack/run-tests.sh bats DIR         bats --tap DIR (integration, needs root)
#   hack/run-tests.sh all BIN...       the unit binaries, then bats/
#   MOAT_BATS_EXCLUDE="a.bats b.bats"  leaves those bats files out
#   MOAT_FUZZ_SECONDS=N                 (all) also runs each fuzzer N seconds
#   MOAT_ASAN_BUILD=DIR MOAT_ASAN_BATS="a.bats b.bats"
#                                      also runs those bats files again with
#                                      the binaries of DIR (ASan+UBSan), in
#                                      hack/sandbox alongside the others
#
# Shows the whole TAP output, then ends with exactly one line
# `tests: N passed, N failed`. A skipped test counts as failed (in CI a skip
# is a failure), so does a binary that crashes or stops before its plan is
# complete, and a run in which nothing ran at all fails too.
set -euo pipefail

usage() {
  echo "usage: $0 unit BIN... | bats DIR | all BIN..." >&2
  exit 2
}

repo_root=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0
out=$(mktemp /tmp/moat-tests.XXXXXX)
trap 'rm -f "$out"' EXIT

# Counts the TAP in file $3 (default $out) for one suite named $1 whose
# exit status was $2.
count_tap() {
  local name=$1 rc=$2 tap=${3:-$out} line plan=-1 seen=0 suite_failed=0
  while IFS= read -r line; do
    if [[ $line =~ ^1\.\.([0-9]+) ]]; then
      plan=$((plan < 0 ? BASH_REMATCH[1] : plan + BASH_REMATCH[1]))
    elif [[ $line =~ ^not\ ok\ [0-9]+ ]]; then
      seen=$((seen + 1))
      suite_failed=$((suite_failed + 1))
    elif [[ $line =~ ^ok\ [0-9]+ ]]; then
      seen=$((seen + 1))
      if [[ ${line,,} =~ \#\ *(skip|todo) ]]; then
        suite_failed=$((suite_failed + 1))
      else
        passed=$((passed + 1))
      fi
    fi
  done <"$tap"

  if ((plan > seen)); then
    echo "# $name: planned $plan tests, saw $seen: $((plan - seen)) counted as failed"
    suite_failed=$((suite_failed + plan - seen))
  fi
  if ((rc != 0 && suite_failed == 0)); then
    echo "# $name: exited with status $rc without a failing test: counted as failed"
    suite_failed=1
  fi
  failed=$((failed + suite_failed))
}

# Runs one command as a suite: streams its output and counts it.
run_suite() {
  local name=$1 rc=0
  shift
  echo "# ---- $name"
  "$@" </dev/null 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
  count_tap "$name" "$rc"
}

run_unit() {
  local bin
  for bin in "$@"; do
    [[ $bin == */* ]] || bin=./$bin
    if [[ ! -x $bin ]]; then
      echo "# $bin: missing or not executable: counted as failed"
      failed=$((failed + 1))
      continue
    fi
    CMOCKA_MESSAGE_OUTPUT=TAP run_suite "unit $(basename "$bin")" "$bin"
  done
}

# Runs one command as a suite in the background, its output into $1 and
# its exit status into $1.rc; shown and counted later by show_suite.
start_suite() {
  local log=$1
  shift
  {
    local rc=0
    "$@" </dev/null >"$log" 2>&1 || rc=$?
    echo "$rc" >"$log.rc"
  } &
}

show_suite() {
  local name=$1 log=$2
  echo "# ---- $name"
  cat "$log"
  count_tap "$name" "$(cat "$log.rc" 2>/dev/null || echo 1)" "$log"
}

# In hack/sandbox: the first $1 files of the rest, then the others with
# the sanitizer build's binaries.
run_sandboxed() {
  local n=$1 rc=0
  shift
  if ((n)); then
    "$repo_root/hack/sandbox" bats --tap "${@:1:n}" || rc=1
  fi
  shift "$n"
  if (($#)); then
    echo "# ---- bats under ASan+UBSan (in hack/sandbox): ${*##*/}"
    MOAT_BUILD=$MOAT_ASAN_BUILD ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
      "$repo_root/hack/sandbox" bats --tap "$@" || rc=1
  fi
  return "$rc"
}

# Whether this kernel makes WireGuard links (a throwaway namespace's).
has_wireguard() { unshare -n ip link add wgprobe type wireguard 2>/dev/null; }

# The bats files of DIR. The files marked "# moat-bats: needs-wireguard"
# are left out, saying so, on a kernel without WireGuard (neither passed
# nor skipped: hack/test-kernels runs them in one that has it). The files
# marked "# moat-bats: sandbox" change
# what is a network namespace's own setting (IPv6 forwarding): they run in
# hack/sandbox's private namespaces, never in the host's. With
# MOAT_ASAN_BUILD, the files of MOAT_ASAN_BATS run once more with the
# sanitizer build's binaries (a leak or undefined behaviour fails the
# call, so the test), in a sandbox too. The sandboxed runs share nothing
# with the host's (their own tables, bridges, records and run directory),
# so they go alongside it and are shown after it: the suite takes the
# time of its longest part, not of their sum.
run_bats() {
  local dir=$1
  if [[ ! -d $dir ]]; then
    echo "# $dir: no such directory: counted as failed"
    failed=$((failed + 1))
    return
  fi
  export MOAT_BUILD=${MOAT_BUILD:-$repo_root/build}
  # A hung test fails instead of hanging the run.
  export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-180}
  # MOAT_BATS_EXCLUDE: file names to leave out.
  local f files=() sandboxed=() asan=() side
  for f in "$dir"/*.bats; do
    [[ " ${MOAT_BATS_EXCLUDE-} " == *" ${f##*/} "* ]] && continue
    if grep -qx '# moat-bats: needs-wireguard' "$f" && ! has_wireguard; then
      echo "# ${f##*/}: left out: needs a kernel with WireGuard" \
        "(MOAT_KERNEL_BATS=${f##*/} make test-kernels runs it in one)"
      continue
    fi
    if grep -qx '# moat-bats: sandbox' "$f"; then
      sandboxed+=("$f")
    else
      files+=("$f")
    fi
  done
  if [[ -n ${MOAT_ASAN_BUILD-} ]]; then
    for f in ${MOAT_ASAN_BATS-}; do
      asan+=("$dir/$f")
    done
  fi
  side=$(mktemp -d /tmp/moat-tests-side.XXXXXX)
  start_suite "$side/sandboxed" run_sandboxed "${#sandboxed[@]}" \
    "${sandboxed[@]}" "${asan[@]}"
  run_suite "bats $dir" bats --tap "${files[@]}"
  wait
  show_suite "bats in hack/sandbox: ${sandboxed[*]##*/}" "$side/sandboxed"
  rm -rf -- "$side"
}

(($# >= 1)) || usage
mode=$1
shift
case $mode in
unit)
  run_unit "$@"
  ;;
bats)
  (($# == 1)) || usage
  run_bats "$1"
  ;;
all)
  run_unit "$@"
  # MOAT_FUZZ_SECONDS: also run each fuzzer that long (a smoke in CI).
  if [[ -n ${MOAT_FUZZ_SECONDS-} ]]; then
    run_suite "fuzz" "$repo_root/hack/fuzz/run.sh" "$MOAT_FUZZ_SECONDS"
  fi
  run_bats "$repo_root/bats"
  ;;
*)
  usage
  ;;
esac

echo "tests: $passed passed, $failed failed"
if ((failed > 0 || passed == 0)); then
  exit 1
fi
