# shellcheck shell=bash disable=SC2016,SC2034 # jq programs in single quotes; variables for the tests
# Helpers for the fault tests (bats/faults-*.bats): crashes, storms,
# foreign firewalls, restarts. Load after helpers:
#
#   load helpers
#   load faults
#   setup()    { faults_setup; }
#   teardown() { faults_teardown; }
#
# Everything moat does here happens in a private "host" namespace ($H):
# the bridge, the host ends, moat's tables, the hook's and moatctl's work;
# the records are in a run dir of the test's own ($MOAT_RUN_DIR). So a
# test may compare the whole of moat's tables with the records, flush the
# namespace's ruleset, add foreign firewalls, or delete the run dir, and
# touch nothing of the machine's or of other tests running meanwhile.
# Teardown deletes the namespaces (the kernel then drops every link and
# table in them) and the run dir; it does not go through
# teardown_moat_net, whose last step deletes the host's moat tables when
# the run dir it looks at holds no record.

faults_setup() {
  export MOAT_RUN_DIR=$BATS_TEST_TMPDIR/run
  setup_moat_net
  new_netns host
  H=$(ns_of host)
  ip -n "$H" link set lo up
  MOAT_WRAP="nsenter --net=/run/netns/$H"
  NETDIR=$T/networks
  mkdir -p "$NETDIR" "$MOAT_RUN_DIR"
  mkfifo "$T/never"
  # A descriptor that never delivers data: `read -t` on it waits without a
  # process (sub-millisecond kill delays).
  exec {NEVER_FD}<>"$T/never"
}

faults_teardown() {
  [[ -n ${PFX-} ]] || return 0
  local pid ns
  [[ -z ${NEVER_FD-} ]] || exec {NEVER_FD}>&-
  if [[ -f $T/pids ]]; then
    while read -r pid; do
      [[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null || true
    done <"$T/pids"
  fi
  if [[ -f $T/netns ]]; then
    while read -r ns; do
      [[ -z $ns ]] || ip netns del "$ns" 2>/dev/null || true
    done <"$T/netns"
  fi
  rm -rf "${MOAT_RUN_DIR:?}"
  if [[ -s $T/stderr ]]; then
    echo "# plugin stderr (last 40 lines):" >&2
    tail -n 40 "$T/stderr" | sed 's/^/#   /' >&2
  fi
  return 0
}

# in_h CMD...: CMD in $H's network namespace (nsenter keeps /sys as is).
in_h() { nsenter --net="/run/netns/$H" "$@"; }

# ctl ARGS...: moatctl in $H; stdout and stderr together.
ctl() {
  env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" \
    nsenter --net="/run/netns/$H" "$MOAT_BUILD/moatctl" "$@" 2>&1
}

# write_netconf: this test's config as a network file for hook-driven
# attach (MOAT_NETWORK_DIRS=$NETDIR).
write_netconf() { printf '%s\n' "$MOAT_CONF" >"$NETDIR/50-$NET.conf"; }

# spawn_cni VERB CID NETNS_PATH OUTFILE [CONF]: the plugin in $H in the
# background, with no process between us and it (env and nsenter exec),
# so that $! is the plugin itself once it runs. Sets SPAWNED.
spawn_cni() {
  local conf=${5:-$MOAT_CONF}
  printf '%s' "$conf" >"$T/spawn.conf"
  env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
    CNI_NETNS="$3" CNI_IFNAME=eth0 CNI_PATH="$HOST_IPAM_DIR" \
    nsenter --net="/run/netns/$H" "$MOAT" <"$T/spawn.conf" >"$4" 2>>"$T/stderr" &
  SPAWNED=$!
}

# spawn_hook STAGE STATE_JSON OUTFILE: moat-hook in $H in the background,
# as spawn_cni. Sets SPAWNED.
spawn_hook() {
  printf '%s' "$2" >"$T/spawn.state"
  env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" MOAT_NETWORK_DIRS="$NETDIR" \
    nsenter --net="/run/netns/$H" "$MOAT_BUILD/moat-hook" "$1" <"$T/spawn.state" >"$3" 2>&1 &
  SPAWNED=$!
}

# run_hook_h STAGE STATE_JSON: moat-hook in $H, in the foreground.
run_hook_h() {
  printf '%s' "$2" | env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" \
    MOAT_NETWORK_DIRS="$NETDIR" timeout 60 nsenter --net="/run/netns/$H" \
    "$MOAT_BUILD/moat-hook" "$1" 2>&1
}

# pause_us MICROSECONDS: waits that long without starting a process.
pause_us() {
  (($1 > 0)) || return 0
  read -r -t "$(printf '0.%06d' "$1")" -u "$NEVER_FD" || true
}

now_us() { echo "${EPOCHREALTIME/./}"; }

# kill_after_us PID MICROSECONDS: SIGKILL to PID after the delay; waits
# for it and prints its exit status (137: the kill landed; 0: it had
# finished).
kill_after_us() {
  local rc=0
  pause_us "$2"
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" || rc=$?
  echo "$rc"
}

# median N...: the median of the numbers given.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---------------------------------------------------------------- state of $H

# h_links: moat's host ends in $H, sorted.
h_links() {
  ip -n "$H" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
    grep -E '^mt[0-9a-f]{13}$' | sort || true
}

# h_elements: every element of every set and map in $H's ruleset, one
# "family table set element" a line, sorted (expiry left out).
h_elements() {
  in_h nft -j list ruleset 2>/dev/null | jq -r '
    def norm: if type == "object" and has("concat") then .concat | map(norm) | join(" . ")
              elif type == "object" and has("elem") then .elem.val | norm
              elif type == "object" and has("prefix") then "\(.prefix.addr)/\(.prefix.len)"
              elif type == "object" and has("range") then .range | map(norm) | join("-")
              elif type == "array" then map(norm) | join(" : ")
              elif type == "object" then tojson
              else tostring end;
    .nftables[] | (.set // .map) | select(. != null)
    | "\(.family) \(.table) \(.name)" as $s | (.elem // [])[] | "\($s) \(norm)"' | sort
}

# assert_kept_then_teardown WHEN: after the last DEL in $H moat keeps its
# tables, empty but for the bridge's element, and the bridge with no port
# (docs/design.md, "What the last container leaves"); moatctl teardown then
# removes them, leaving no table and no bridge.
assert_kept_then_teardown() {
  local when=$1
  assert_eq "$(h_tables)" $'bridge moat\ninet moat' "tables $when"
  assert_eq "$(h_elements)" "inet moat bridges $BR" "elements $when"
  assert_eq "$(in_h ip -o link show master "$BR" 2>/dev/null)" "" "ports on $BR $when"
  run -0 ctl teardown
  assert_eq "$(h_tables)" "" "tables after moatctl teardown"
  [[ -z $(ip -n "$H" -o link show "$BR" 2>/dev/null) ]] || fail "bridge $BR left after moatctl teardown"
}

# h_tables: the tables in $H, "family name" a line, sorted.
h_tables() {
  in_h nft -j list tables 2>/dev/null | jq -r '.nftables[] | select(.table) | "\(.table.family) \(.table.name)"' | sort
}

# state_files: every file under the network's state directory but the
# lock, relative, sorted.
state_files() {
  [[ -d $MOAT_RUN_DIR/$NET ]] || return 0
  (cd "$MOAT_RUN_DIR/$NET" && find . -mindepth 1 \( -type f -o -type l \) | sed 's|^\./||' | sort)
}

# allocations: "address owner" for every file of the built-in allocator
# named like an address ("<empty>" for a file with no owner), sorted.
allocations() {
  local f owner
  [[ -d $MOAT_RUN_DIR/$NET/ipam ]] || return 0
  for f in "$MOAT_RUN_DIR/$NET/ipam"/*; do
    [[ -f $f && ${f##*/} =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || continue
    owner=
    read -r owner <"$f" || true
    printf '%s %s\n' "${f##*/}" "${owner:-<empty>}"
  done | sort
}

# records_addr: "address key" of every record of the network, sorted.
records_addr() {
  local files=("$MOAT_RUN_DIR/$NET"/*@*.json)
  [[ -f ${files[0]} ]] || return 0
  jq -r '"\(.address | split("/")[0]) \(input_filename | sub(".*/"; "") | sub("\\.json$"; ""))"' \
    "${files[@]}" | sort
}

# assert_unique_addresses: no address is held twice: not in the records,
# not in the allocator, and every record's address is allocated to it.
assert_unique_addresses() {
  local recs allocs dup
  recs=$(records_addr)
  allocs=$(allocations)
  dup=$(awk '{ print $1 }' <<<"$recs" | sed '/^$/d' | sort | uniq -d)
  assert_eq "$dup" "" "addresses recorded twice"
  dup=$(awk '{ print $1 }' <<<"$allocs" | sed '/^$/d' | sort | uniq -d)
  assert_eq "$dup" "" "addresses allocated twice"
  local line
  while read -r line; do
    [[ -n $line ]] || continue
    grep -qxF -- "$line" <<<"$allocs" || fail "record '$line' has no allocation of its own:" "$allocs"
  done <<<"$recs"
}

# ctl_check_clean: moatctl check reports no drift in $H. (Foreign conflicts
# cannot exist there unless the test made them.)
ctl_check_clean() {
  local out rc=0
  out=$(ctl --json check) || rc=$?
  [[ $rc -eq 0 ]] || fail "moatctl check: exit $rc:" "$out"
  assert_jq "$out" '.drift == [] and .conflicts == []'
}

# ---------------------------------------------------------------- kill timing
# The delay before a SIGKILL is drawn from 0 to DELAY_MAX microseconds,
# measured from the moment the call was started; DELAY_MAX follows a
# staircase: down by a tenth after a kill that came too late (the call had
# finished), up by a tenth after one that landed. It settles where about
# half the kills land, which spreads the others over the whole call
# whatever this machine's speed and load (bash's own latency included).
# DELAY_LO and DELAY_HI keep the range it moved in, for the report.

delay_init() { # MICROSECONDS
  DELAY_MAX=$1
  DELAY_LO=$1
  DELAY_HI=$1
}

next_delay() { DELAY=$(((RANDOM * 32768 + RANDOM) % (DELAY_MAX + 1))); }

# kill_spawned WHAT ITER: SIGKILLs $SPAWNED $DELAY us after its spawn
# (next_delay drew it) and reaps it: KILLED_RC is 0 when it finished first,
# 137 when killed; any other exit (WHAT failed by itself) fails the test.
kill_spawned() {
  pause_us "$DELAY"
  kill -KILL "$SPAWNED" 2>/dev/null || true
  KILLED_RC=0
  { wait "$SPAWNED"; } 2>/dev/null || KILLED_RC=$?
  [[ $KILLED_RC -eq 0 || $KILLED_RC -eq 137 ]] ||
    fail "iteration $2: $1 exit $KILLED_RC (not killed): $(cat "$T/out")"
}

adapt_delay() { # 1 when the call had finished, else 0
  if (($1)); then
    DELAY_MAX=$((DELAY_MAX * 9 / 10))
  else
    DELAY_MAX=$((DELAY_MAX * 11 / 10))
  fi
  ((DELAY_MAX >= 300)) || DELAY_MAX=300
  ((DELAY_MAX <= 1000000)) || DELAY_MAX=1000000
  ((DELAY_MAX >= DELAY_LO)) || DELAY_LO=$DELAY_MAX
  ((DELAY_MAX <= DELAY_HI)) || DELAY_HI=$DELAY_MAX
}
