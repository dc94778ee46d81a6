#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2010 # jq programs in single quotes; ls of address files
# Concurrency: many runtimes calling the plugin at once on one network.

load helpers

setup() { setup_moat_net; }
teardown() { teardown_moat_net; }

N=64

@test "64 parallel ADDs get 64 distinct addresses; 64 parallel DELs leave nothing" {
  local k rc hostifs=() ips=() pids=()
  for ((k = 1; k <= N; k++)); do
    new_netns "p$k"
  done

  for ((k = 1; k <= N; k++)); do
    cni ADD "$PFX-p$k" "${PFX}p$k" >"$T/result.p$k" 2>/dev/null &
    pids+=($!)
  done
  for ((k = 1; k <= N; k++)); do
    rc=0
    wait "${pids[k - 1]}" || rc=$?
    assert_eq "$rc" 0 "ADD p$k exit status ($(cat "$T/result.p$k"))"
  done

  for ((k = 1; k <= N; k++)); do
    ips+=("$(ip_of "p$k")")
    hostifs+=("$(hostif_of "p$k")")
    assert_jq "$(ip -n "${PFX}p$k" -j -4 addr show dev eth0)" \
      '.[0].addr_info[0].local == $a' --arg a "${ips[k - 1]}"
  done
  assert_eq "$(printf '%s\n' "${ips[@]}" | sort -u | grep -c "^${NETPFX//./\\.}\\.")" "$N" \
    "distinct addresses in $SUBNET"
  assert_eq "$(printf '%s\n' "${hostifs[@]}" | sort -u | wc -l)" "$N" "distinct host ends"
  assert_eq "$(bridge_ports "$BR" | wc -l)" "$N" "bridge ports"
  assert_eq "$(network_records | wc -l)" "$N" "records"
  assert_eq "$(nft_elems inet members | grep -c "^$BR " || true)" "$N" "members elements"
  assert_eq "$(ls "$MOAT_RUN_DIR/$NET/ipam" | grep -c '^[0-9]' || true)" "$N" "allocations"

  pids=()
  for ((k = 1; k <= N; k++)); do
    CNI_CONF=$(conf_with_prev "$(result_of "p$k")") \
      cni DEL "$PFX-p$k" "${PFX}p$k" >"$T/del.p$k" 2>/dev/null &
    pids+=($!)
  done
  for ((k = 1; k <= N; k++)); do
    rc=0
    wait "${pids[k - 1]}" || rc=$?
    assert_eq "$rc" 0 "DEL p$k exit status ($(cat "$T/del.p$k"))"
    assert_eq "$(cat "$T/del.p$k")" "" "DEL p$k output"
  done

  local left
  left=$(ip -br link show | awk '{ sub(/@.*/, "", $1); print $1 }' |
    grep -cxF -f <(printf '%s\n' "${hostifs[@]}") || true)
  assert_eq "$left" 0 "host ends left"
  bridge_left_empty "$BR" || fail "ports left on the bridge"
  assert_eq "$(nft_elems_left_of_test "${hostifs[@]}" | wc -l)" 0 "elements left"
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state left: $(ls -R "$MOAT_RUN_DIR/$NET")"
  for ((k = 1; k <= N; k++)); do
    assert_eq "$(ip -n "${PFX}p$k" -o link show | grep -cv ': lo:' || true)" 0 "links in p$k"
  done
}
