#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2004,SC2153 # jq programs in single quotes; keys of an associative array; DELAY is set by faults.bash
# Crash consistency (docs/design.md, "Crash safety"): SIGKILL to the plugin at a random moment
# of its ADD, to moat-hook at a random moment of its prestart (policy) and
# of a hook-driven attach; after each kill, DEL, GC or poststop leaves
# exactly what was there before: no link, no element, no allocation, no
# record, no temporary file, and no address handed to two containers.
#
# The kill delay is drawn from 0 to a bound that starts at the call's
# measured duration and follows a staircase (faults.bash: delay_init), so
# that about half the kills land mid-call; every iteration
# classifies what the kill left before the cleanup runs, so the test shows
# that the kills land at varied points mid-call, not only before or after.
# Live containers stay attached throughout, in a /27 so that the
# allocator wraps and hands the killed calls' addresses out again.

load helpers
load faults

ITERATIONS=${MOAT_CRASH_ITERATIONS:-200}

setup() {
  faults_setup
  conf_set '.subnet = $s | .args = {cni: {labels: [{key: "app", value: "crash"}]}}' \
    --arg s "$NETPFX.0/27"
  write_netconf
  new_netns victim
  VNS=/run/netns/$(ns_of victim)
  LIVE=()
  for n in 1 2 3; do live_add "l$n"; done
}
teardown() { faults_teardown; }

# live_add NAME: a container that stays attached (CNI ADD in $H).
live_add() {
  add_container "$1"
  LIVE+=("$1")
}

# live_replace: DELs the oldest live container and adds a new one.
live_replace() {
  local old=${LIVE[0]}
  del_container "$old"
  LIVE=("${LIVE[@]:1}")
  LIVE_SEQ=$((${LIVE_SEQ:-3} + 1))
  live_add "l$LIVE_SEQ"
}

# valid_list: cni.dev/valid-attachments naming the live containers.
gc_conf_live() {
  local list='[]' n
  for n in "${LIVE[@]}"; do
    list=$(jq -c --arg c "$(cid_of "$n")" '. + [{containerID: $c, ifname: "eth0"}]' <<<"$list")
  done
  jq -c --argjson l "$list" '. + {"cni.dev/valid-attachments": $l}' <<<"$MOAT_CONF"
}

# files_to_compare: the state files but the allocator's "last" and the
# identities' definitions, which outlive their last member by design
# (state/identities.c: moat_ident_member_remove).
files_to_compare() { state_files | grep -vE '^ipam/last$|^idents/[^/]+\.json$' || true; }

# snapshot: what the live containers alone make, to compare with after
# each cleanup.
snapshot() {
  BASE_LINKS=$(h_links)
  BASE_ELEMS=$(h_elements)
  BASE_RECORDS=$(records_addr)
  BASE_ALLOCS=$(allocations)
  BASE_FILES=$(files_to_compare)
  [[ $(wc -l <<<"$BASE_RECORDS") -eq ${#LIVE[@]} ]] || fail "live records: $BASE_RECORDS"
  assert_unique_addresses
}

# left_now CID: what of the killed call is there, as words: record,
# allocation, empty-allocation, temp-file, link, container-link, elements
# ("nothing" when none).
left_now() {
  local cid=$1 parts=() allocs files
  [[ -f $MOAT_RUN_DIR/$NET/$cid@eth0.json ]] && parts+=(record)
  allocs=$(allocations)
  [[ $allocs == *" $cid@eth0"* ]] && parts+=(allocation)
  [[ $allocs == *"<empty>"* ]] && parts+=(empty-allocation)
  files=$(state_files)
  grep -qE '(^|/)\.|\.tmp$' <<<"$files" && parts+=(temp-file)
  [[ $(h_links) != "$BASE_LINKS" ]] && parts+=(link)
  [[ $(ip -n "${VNS##*/}" -o link show | grep -cv ': lo:') -gt 0 ]] && parts+=(container-link)
  [[ $(h_elements) != "$BASE_ELEMS" ]] && parts+=(elements)
  local IFS=+
  echo "${parts[*]:-nothing}"
}

# assert_back_to_base WHAT: exactly the live containers' state again.
assert_back_to_base() {
  local what=$1 files
  assert_eq "$(records_addr)" "$BASE_RECORDS" "$what: records"
  assert_eq "$(allocations)" "$BASE_ALLOCS" "$what: allocations"
  files=$(files_to_compare)
  assert_eq "$files" "$BASE_FILES" "$what: files under $MOAT_RUN_DIR/$NET"
  assert_eq "$(h_links)" "$BASE_LINKS" "$what: host links"
  assert_eq "$(ip -n "${VNS##*/}" -o link show | grep -cv ': lo:' || true)" 0 "$what: links in the container's netns"
  local elems
  elems=$(h_elements)
  [[ $elems == "$BASE_ELEMS" ]] ||
    fail "$what: elements differ from the live containers' (< before, > now):" \
      "$(diff <(echo "$BASE_ELEMS") <(echo "$elems") | grep '^[<>]')"
}

# calibrate FUNCTION: the median of 5 complete calls' wall time, in
# microseconds: FUNCTION calN runs one call, sets CAL_US to its time and
# cleans up after it.
calibrate() {
  local k times=()
  for k in 1 2 3 4 5; do
    "$1" "cal$k"
    times+=("$CAL_US")
  done
  median "${times[@]}"
}

# timed_wait PID T0: waits for PID, sets CAL_US to the time since T0.
timed_wait() {
  wait "$1" || fail "calibration call failed: $(cat "$T/out")"
  CAL_US=$(($(now_us) - $2))
}

# report CATEGORY_ARRAY_NAME TITLE: prints the histogram (to bats' fd 3)
# and checks that the kills landed mid-call: at least a tenth of them
# left a partial state, of at least two kinds.
report_and_check_spread() {
  local -n hist=$1
  local title=$2 c partial=0 kinds=0
  echo "# $title: $ITERATIONS iterations, kill delay 0 to $DELAY_LO-$DELAY_HI us (staircase)" >&3
  for c in "${!hist[@]}"; do
    echo "#   ${hist[$c]} $c" >&3
    if [[ $c != complete && $c != nothing ]]; then
      partial=$((partial + hist[$c]))
      kinds=$((kinds + 1))
    fi
  done
  ((partial >= ITERATIONS / 10)) || fail "only $partial of $ITERATIONS kills left a partial state"
  ((kinds >= 2)) || fail "the kills left only $kinds kind(s) of partial state: ${!hist[*]}"
}

# cal_add calN: a complete ADD in the victim namespace (timed), then its DEL.
cal_add() {
  local t0
  t0=$(now_us)
  spawn_cni ADD "$PFX-$1" "$VNS" "$T/out"
  timed_wait "$SPAWNED" "$t0"
  CNI_CONF=$MOAT_CONF run -0 cni DEL "$PFX-$1" "$VNS"
}

@test "crash: SIGKILL at a random moment of ADD, $ITERATIONS times: DEL or GC leaves exactly the live containers, no address twice" {
  local iter cid rc delay category ip
  local -A cats=()
  local t
  t=$(calibrate cal_add)
  delay_init "$t"
  snapshot
  for ((iter = 1; iter <= ITERATIONS; iter++)); do
    cid=$PFX-k$iter
    next_delay
    delay=$DELAY
    spawn_cni ADD "$cid" "$VNS" "$T/out"
    kill_spawned ADD "$iter"
    rc=$KILLED_RC
    if [[ $rc -eq 0 ]]; then
      category=complete
      adapt_delay 1
      ip=$(jq -er '.ips[0].address | split("/")[0]' "$T/out") || fail "iteration $iter: no address in $(cat "$T/out")"
      awk '{ print $1 }' <<<"$BASE_RECORDS" | grep -qxF "$ip" &&
        fail "iteration $iter: ADD handed out $ip, which a live container holds"
    else
      category=$(left_now "$cid")
      adapt_delay 0
    fi
    cats[$category]=$((${cats[$category]:-0} + 1))
    assert_unique_addresses
    # Half the cleanups are the runtime's DEL, half a GC listing the live.
    if ((iter % 2)); then
      CNI_CONF=$MOAT_CONF run cni DEL "$cid" "$VNS"
      [[ $status -eq 0 ]] || fail "iteration $iter ($category, ${delay} us): DEL failed: $output"
    else
      CNI_CONF=$(gc_conf_live) run cni GC
      [[ $status -eq 0 ]] || fail "iteration $iter ($category, ${delay} us): GC failed: $output"
    fi
    assert_back_to_base "iteration $iter (killed after ${delay} us, left: $category, cleanup: $( ((iter % 2)) && echo DEL || echo GC))"
    # Now and then a live container goes and a new one comes: with the
    # /27 the allocator wraps over the killed calls' addresses.
    if ((iter % 20 == 0)); then
      live_replace
      snapshot
    fi
  done
  ctl_check_clean
  report_and_check_spread cats "ADD"
}

# prestart STATE for container NAME with annotations.
hook_state() { # CID [ANNOTATIONS_JSON] [PID]
  jq -nc --arg id "$1" --argjson a "${2:-{\}}" --argjson p "${3:-0}" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: $p, bundle: "", annotations: $a}'
}

annotations_for() { # I: a policy that differs between iterations
  jq -nc --arg r "r$(($1 % 3))" --arg p "$((8000 + $1 % 5))" \
    '{"io.moat.labels": ("app=crash,role=" + $r), "io.moat.allow-host": ("tcp/" + $p),
      "io.moat.egress": "192.0.2.0/24 tcp/443"}'
}

cal_hook() {
  CNI_CONF=$MOAT_CONF run -0 cni ADD "$PFX-$1" "$VNS"
  local t0
  t0=$(now_us)
  spawn_hook prestart "$(hook_state "$PFX-$1" "$(annotations_for "${1#cal}")")" "$T/out"
  timed_wait "$SPAWNED" "$t0"
  CNI_CONF=$MOAT_CONF run -0 cni DEL "$PFX-$1" "$VNS"
}

@test "crash: SIGKILL at a random moment of moat-hook prestart, $ITERATIONS times: prestart again, poststop or DEL recover, nothing left" {
  local iter cid rc delay category before_elems before_rec conf
  local -A cats=()
  local t
  t=$(calibrate cal_hook)
  # The calibration made every identity annotations_for gives (they
  # outlive their members, in the records and in the kernel).
  delay_init "$t"
  snapshot
  for ((iter = 1; iter <= ITERATIONS; iter++)); do
    cid=$PFX-h$iter
    # Half the containers come without CNI labels: their prestart removes
    # nothing from the kernel, so it does not end waiting for the kernel
    # to free elements, and the kills land in the join itself.
    if ((iter % 2)); then conf=$(jq -c 'del(.args)' <<<"$MOAT_CONF"); else conf=$MOAT_CONF; fi
    CNI_CONF=$conf run -0 cni ADD "$cid" "$VNS"
    before_elems=$(h_elements)
    before_rec=$(cat "$MOAT_RUN_DIR/$NET/$cid@eth0.json")
    next_delay
    delay=$DELAY
    spawn_hook prestart "$(hook_state "$cid" "$(annotations_for "$iter")")" "$T/out"
    kill_spawned prestart "$iter"
    rc=$KILLED_RC
    if [[ $rc -eq 0 ]]; then
      category=complete
      adapt_delay 1
    else
      adapt_delay 0
      local parts=()
      if [[ $(jq -c . "$MOAT_RUN_DIR/$NET/$cid@eth0.json") != "$(jq -c . <<<"$before_rec")" ]]; then
        if jq -e .policyPending "$MOAT_RUN_DIR/$NET/$cid@eth0.json" >/dev/null; then
          parts+=(record-pending)
        else
          parts+=(record)
        fi
      fi
      grep -qE '(^|/)\.|\.tmp$' <<<"$(state_files)" && parts+=(temp-file)
      [[ $(h_elements) != "$before_elems" ]] && parts+=(elements)
      category=$(
        IFS=+
        echo "${parts[*]:-nothing}"
      )
    fi
    cats[$category]=$((${cats[$category]:-0} + 1))
    case $((iter % 3)) in
    0) # the runtime retries the start: prestart completes, check agrees
      run -0 run_hook_h prestart "$(hook_state "$cid" "$(annotations_for "$iter")")"
      ctl_check_clean || fail "iteration $iter ($category, ${delay} us): drift after a second prestart"
      ;;
    1) # the container stops: poststop takes the policy, check agrees
      run -0 run_hook_h poststop "$(hook_state "$cid")"
      ctl_check_clean || fail "iteration $iter ($category, ${delay} us): drift after poststop"
      ;;
    esac
    CNI_CONF=$conf run cni DEL "$cid" "$VNS"
    [[ $status -eq 0 ]] || fail "iteration $iter ($category, ${delay} us): DEL failed: $output"
    assert_back_to_base "iteration $iter (prestart killed after ${delay} us, left: $category, recovery $((iter % 3)))"
  done
  ctl_check_clean
  report_and_check_spread cats "moat-hook prestart"
}

cal_attach() {
  local t0
  t0=$(now_us)
  spawn_hook prestart "$(hook_state "$PFX-$1" \
    "$(jq -nc --arg n "$NET" '{"io.moat.network": $n, "io.moat.labels": "app=crash"}')" "$SLEEPER")" "$T/out"
  timed_wait "$SPAWNED" "$t0"
  run -0 run_hook_h poststop "$(hook_state "$PFX-$1")"
}

@test "crash: SIGKILL at a random moment of a hook-driven attach, $ITERATIONS times: poststop or GC leaves nothing" {
  local iter cid rc delay category state
  local -A cats=()
  local t
  # A process in the victim namespace stands in for the container.
  start_bg "$(ns_of victim)" sleep 100000
  SLEEPER=$(tail -n 1 "$T/pids")
  wait_for 5 eval "[[ \$(ip netns identify $SLEEPER) == $(ns_of victim) ]]"
  t=$(calibrate cal_attach)
  delay_init "$t"
  snapshot
  for ((iter = 1; iter <= ITERATIONS; iter++)); do
    cid=$PFX-a$iter
    state=$(hook_state "$cid" \
      "$(jq -nc --arg n "$NET" '{"io.moat.network": $n, "io.moat.labels": "app=crash"}')" "$SLEEPER")
    next_delay
    delay=$DELAY
    spawn_hook prestart "$state" "$T/out"
    kill_spawned prestart "$iter"
    rc=$KILLED_RC
    if [[ $rc -eq 0 ]]; then
      category=complete
      adapt_delay 1
    else
      category=$(left_now "$cid")
      adapt_delay 0
    fi
    cats[$category]=$((${cats[$category]:-0} + 1))
    assert_unique_addresses
    if ((iter % 2)); then
      # runc runs poststop for a container whose start failed.
      run run_hook_h poststop "$state"
      [[ $status -eq 0 ]] || fail "iteration $iter ($category, ${delay} us): poststop failed: $output"
    else
      CNI_CONF=$(gc_conf_live) run cni GC
      [[ $status -eq 0 ]] || fail "iteration $iter ($category, ${delay} us): GC failed: $output"
    fi
    assert_back_to_base "iteration $iter (attach killed after ${delay} us, left: $category, cleanup: $( ((iter % 2)) && echo poststop || echo GC))"
  done
  ctl_check_clean
  report_and_check_spread cats "hook-driven attach"
}
