#!/usr/bin/env bash
# Builds moat's libFuzzer harnesses and runs each one for SECONDS_PER_HARNESS
# (default 60) on a copy of its seed corpus (hack/fuzz/corpus/<harness>/, which
# this script never changes). One TAP line per harness; exits 1 if any harness
# finds a crash, a leak, a sanitizer error or a timeout, and prints where the
# input that triggers it was kept (build-fuzz/artifacts/<harness>/).
#
#   hack/fuzz/run.sh [SECONDS_PER_HARNESS]
#   FUZZ_HARNESSES="fuzz_cidr fuzz_env" hack/fuzz/run.sh 30   # a subset
#
# Needs clang with its sanitizer and libFuzzer runtimes (Debian:
# clang libclang-rt-14-dev).
set -euo pipefail

seconds=${1:-60}
if [[ ! $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS_PER_HARNESS]" >&2
  exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fuzz_dir=$root/hack/fuzz
out_rel=build-fuzz
out=$root/$out_rel
cc=${FUZZ_CC:-clang}
read -r -a harnesses <<<"${FUZZ_HARNESSES:-fuzz_netconf fuzz_result fuzz_record fuzz_cidr fuzz_env fuzz_annot fuzz_policy fuzz_profile fuzz_token fuzz_grant fuzz_shim fuzz_netfind fuzz_http fuzz_publish fuzz_nflog fuzz_metrics fuzz_hostnet fuzz_clusterview fuzz_etcd}"

# The library through the Makefile's own rules and flags (CFLAGS from the
# environment are prepended to them), instrumented for coverage.
export CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
make_vars=(CC="$cc" BUILD="$out_rel/obj")
make -s -C "$root" --no-print-directory "${make_vars[@]}" "$out_rel/obj/libmoat.a" \
  "$out_rel/obj/oci-hook/liboci-hook.a" "$out_rel/obj/ctl/libctl.a" "$out_rel/obj/runtime/libruntime.a"
print_var() {
  # shellcheck disable=SC2016 # a make rule, expanded by make
  make -s -C "$root" --no-print-directory "${make_vars[@]}" \
    --eval='fuzz-print-%: ; @echo $($*)' "fuzz-print-$1"
}
lib_cflags=$(print_var CFLAGS)
pkg_libs=$(print_var PKG_LIBS)
harness_cflags=${lib_cflags//fuzzer-no-link/fuzzer}

for h in "${harnesses[@]}"; do
  # shellcheck disable=SC2086 # flag lists from the Makefile split on spaces
  (cd "$root" && "$cc" $harness_cflags -o "$out/$h" "hack/fuzz/$h.c" "$out/obj/oci-hook/liboci-hook.a" \
    "$out/obj/ctl/libctl.a" "$out/obj/runtime/libruntime.a" "$out/obj/libmoat.a" $pkg_libs)
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The harnesses must not touch /run; should one ever reach the state store,
# it lands here.
export MOAT_RUN_DIR=$out/run/state

failed=0
n=0
echo "1..${#harnesses[@]}"
for h in "${harnesses[@]}"; do
  work=$out/run/$h
  artifacts=$out/artifacts/$h
  rm -rf "$work"
  mkdir -p "$work/corpus" "$artifacts"
  cp -- "$fuzz_dir/corpus/$h"/* "$work/corpus/"
  dict=()
  [[ -f $fuzz_dir/$h.dict ]] && dict=("-dict=$fuzz_dir/$h.dict")
  rc=0
  "$out/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$work/corpus" \
    >"$work/log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
  cov=$(sed -n 's/^#[0-9].* cov: \([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
  corpus=$(find "$work/corpus" -type f | wc -l)
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log" | tail -n 1)
  n=$((n + 1))
  if ((rc == 0)) && [[ -z $artifact ]]; then
    printf 'ok %d %-14s %ss, %s runs, cov %s, corpus %s\n' "$n" "$h" "$seconds" "${runs:-?}" \
      "${cov:-?}" "$corpus"
  else
    failed=1
    what=$(grep -m 1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*invariant failed)' \
      "$work/log" || true)
    printf 'not ok %d %-14s %s\n' "$n" "$h" "${what:-exit $rc}"
    printf '#   input: %s\n' "${artifact:-none kept}"
    printf '#   log:   %s\n' "$work/log"
    [[ -n $artifact ]] && printf '#   again: %s %s\n' "$out/$h" "$artifact"
  fi
done
exit "$failed"
