#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2097,SC2098 # jq programs and scripts in single quotes; the workers get the test's variables
# Concurrency storm: 64 workers call ADD, moat-hook prestart, moatctl
# grant, moatctl revoke and DEL on random containers of one network for
# MOAT_STORM_SECONDS (60 in CI; 10 is enough while developing). Every call
# must succeed or fail cleanly: no signal, no timeout, a documented exit
# code and, on failure, one line saying why (CNI: the error JSON on stdout
# with a documented code). At the end moatctl check finds no drift, the
# kernel holds exactly what the records say, every address is held once,
# and after a DEL of every container nothing is left.

load helpers
load faults

SECONDS_STORM=${MOAT_STORM_SECONDS:-60}
WORKERS=${MOAT_STORM_WORKERS:-64}
SLOTS=48

setup() { faults_setup; }
teardown() { faults_teardown; }

# The worker: a plain bash script (no bats tracing in 64 loops). Each
# line of its log: "OP SLOT RC OUTLINES FIRSTLINE".
write_worker() {
  cat >"$T/worker.sh" <<'EOF'
#!/bin/bash
# worker.sh ID DEADLINE (epoch seconds)
id=$1 deadline=$2
log=$T/storm.$id
out=$T/out.$id
err=$T/err.$id
: >"$log"
ops=(ADD ADD HOOK GRANT REVOKE DEL)
while (($(date +%s) < deadline)); do
  slot=$((RANDOM % SLOTS + 1))
  op=${ops[RANDOM % ${#ops[@]}]}
  cid=$PFX-s$slot
  rc=0
  case $op in
  ADD | DEL)
    printf '%s' "$MOAT_CONF" | env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" \
      CNI_COMMAND=$op CNI_CONTAINERID="$cid" CNI_NETNS="/run/netns/${PFX}s$slot" CNI_IFNAME=eth0 \
      CNI_PATH=/usr/lib/cni timeout 30 nsenter --net="/run/netns/$H" "$MOAT" >"$out" 2>"$err" || rc=$?
    ;;
  HOOK)
    printf '{"ociVersion":"1.0.2","id":"%s","status":"created","pid":0,"bundle":"","annotations":{"io.moat.labels":"app=s%d","io.moat.allow-host":"tcp/%d"}}' \
      "$cid" $((RANDOM % 3)) $((7000 + RANDOM % 4)) |
      env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" timeout 30 \
        nsenter --net="/run/netns/$H" "$MOAT_BUILD/moat-hook" prestart >"$out" 2>"$err" || rc=$?
    ;;
  GRANT | REVOKE)
    verb=grant
    [[ $op == GRANT ]] || verb=revoke
    args=(host "tcp/$((9000 + RANDOM % 4))")
    ((RANDOM % 2)) && args=(peer "$PFX-s$((RANDOM % SLOTS + 1))")
    [[ $op == GRANT ]] && ((RANDOM % 2)) && args+=(--ttl 1h)
    env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" timeout 30 \
      nsenter --net="/run/netns/$H" "$MOAT_BUILD/moatctl" "$verb" "$cid" "${args[@]}" >"$out" 2>"$err" || rc=$?
    ;;
  esac
  # What the call said: CNI errors are on stdout, the others' on stderr.
  if [[ $op == ADD || $op == DEL ]]; then text=$(cat "$out"); else text=$(cat "$err" "$out"); fi
  if [[ $op == ADD && $rc -eq 0 ]]; then
    text=$(jq -c '{a: .ips[0].address}' "$out" 2>&1)
  fi
  lines=$(printf '%s' "$text" | grep -c '' || true)
  printf '%s %s %s %s %s\n' "$op" "$slot" "$rc" "$lines" "$(printf '%s' "$text" | head -n 1 | tr -s ' ' | cut -c1-300)" >>"$log"
done
EOF
  chmod +x "$T/worker.sh"
}

# check_outcome LINE: one call's outcome is clean (see the file's header).
check_outcome() {
  local op _slot rc lines text
  read -r op _slot rc lines text <<<"$1"
  ((rc < 124)) || {
    echo "signal or timeout: $1"
    return
  }
  case $op in
  ADD)
    if ((rc == 0)); then
      [[ $text =~ ^\{\"a\":\"10\.[0-9.]+/24\"\}$ ]] || echo "ADD succeeded without an address: $1"
    else
      # A CNI error: one JSON line, a documented code, a message.
      jq -e '(.code | IN(1,2,3,4,5,6,7,11,100,101,102,103)) and (.msg | type == "string" and length > 0)' \
        >/dev/null 2>&1 <<<"$text" && ((lines == 1)) || echo "ADD: not a clean CNI error: $1"
    fi
    ;;
  DEL) ((rc == 0 && lines == 0)) || echo "DEL is idempotent and must succeed silently: $1" ;;
  HOOK)
    if ((rc != 0)); then
      ((rc == 1 && lines == 1)) && [[ $text == "moat-hook: "* ]] || echo "hook: not a clean failure: $1"
    fi
    ;;
  GRANT | REVOKE)
    case $rc in
    0) ;;
    1 | 2) ((lines == 1)) && [[ -n $text ]] || echo "moatctl: not a one-line failure: $1" ;;
    *) echo "moatctl: undocumented exit $rc: $1" ;;
    esac
    ;;
  *) echo "garbled log line: $1" ;;
  esac
}

@test "storm: $WORKERS workers, ${SECONDS_STORM}s of ADD, hook, grant, revoke, DEL: clean outcomes, no drift, nothing left" {
  local k deadline pids=() rc
  for ((k = 1; k <= SLOTS; k++)); do new_netns "s$k"; done
  write_worker
  deadline=$(($(date +%s) + SECONDS_STORM))
  for ((k = 1; k <= WORKERS; k++)); do
    T=$T PFX=$PFX H=$H MOAT=$MOAT MOAT_BUILD=$MOAT_BUILD MOAT_RUN_DIR=$MOAT_RUN_DIR \
      MOAT_CONF=$MOAT_CONF SLOTS=$SLOTS nice -n 5 bash "$T/worker.sh" "$k" "$deadline" &
    pids+=($!)
  done
  for k in "${!pids[@]}"; do
    rc=0
    wait "${pids[k]}" || rc=$?
    assert_eq "$rc" 0 "worker $((k + 1)) exit status"
  done

  # Every call's outcome.
  local all bad total
  all=$(cat "$T"/storm.*)
  total=$(wc -l <<<"$all")
  bad=$(while IFS= read -r line; do check_outcome "$line"; done <<<"$all")
  echo "# $total calls: $(awk '{ print $1 "/" ($3 == 0 ? "ok" : "rc" $3) }' <<<"$all" | sort | uniq -c | tr -s ' \n' ' ')" >&3
  assert_eq "$bad" "" "unclean outcomes"
  # The storm did work: each kind of call succeeded, and ADDs also failed
  # on attached containers (contention on the same slots).
  local op
  for op in ADD HOOK GRANT REVOKE DEL; do
    [[ $(awk -v o="$op" '$1 == o && $3 == 0' <<<"$all" | wc -l) -gt 0 ]] || fail "no $op succeeded"
  done
  ((total >= WORKERS * 2)) || fail "only $total calls in ${SECONDS_STORM}s"

  # The kernel holds exactly what the records say.
  ctl_check_clean
  assert_unique_addresses
  local nrec
  nrec=$(network_records | wc -l)
  assert_eq "$(h_links | wc -l)" "$nrec" "host ends vs records"
  assert_eq "$(in_h nft list set inet moat members 2>/dev/null | grep -o "$NETPFX\.[0-9]*" | sort -u | wc -l)" "$nrec" "members elements vs records"
  assert_eq "$(allocations | wc -l)" "$nrec" "allocations vs records"
  for ((k = 1; k <= SLOTS; k++)); do
    if [[ -f $MOAT_RUN_DIR/$NET/$PFX-s$k@eth0.json ]]; then
      local want got
      want=$(jq -r .address "$MOAT_RUN_DIR/$NET/$PFX-s$k@eth0.json")
      got=$(ip -n "${PFX}s$k" -4 -o addr show dev eth0 | awk '{ print $4 }')
      assert_eq "$got" "$want" "address in s$k's namespace"
    else
      assert_eq "$(ip -n "${PFX}s$k" -o link show | grep -cv ': lo:' || true)" 0 "links in detached s$k"
    fi
  done

  # DEL of everything: nothing left, moat's tables gone from $H.
  for ((k = 1; k <= SLOTS; k++)); do
    CNI_CONF=$MOAT_CONF run -0 cni DEL "$PFX-s$k" "${PFX}s$k"
  done
  assert_eq "$(h_links)" "" "host ends left"
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state left: $(cd "$MOAT_RUN_DIR/$NET" && find .)"
  assert_kept_then_teardown "after the last DEL"
}
