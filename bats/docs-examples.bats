#!/usr/bin/env bats
# shellcheck disable=SC2154 # bats' $output, $status
# The examples a user copies work as printed: every `busybox ... httpd`
# server of the README, the engine guides (conf/*/README.md) and the man
# pages serves a page (a bare `busybox httpd -f` answers 404: no index),
# and the podman guide's server and clients, with their labels, give what
# their comments say. The commands run with the host's busybox in moat
# containers (network namespaces attached by the plugin, labels by the
# hook); /tmp is a private tmpfs for each server.

load helpers

setup() {
  setup_moat_net
  SRC=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
  command -v busybox >/dev/null || fail "busybox is not installed (hack/install-deps.sh)"
}
teardown() { teardown_moat_net; }

# doc_commands FILE...: the lines of the files with continuations
# ("\" or scdoc's "\\" at the end) joined, one command a line.
doc_commands() {
  awk '{ line = line $0 }
       /\\$/ { sub(/\\+$/, "", line); next }
       { print line; line = "" }' "$@"
}

# busybox_args LINE: what follows the first "busybox " of LINE, without a
# trailing "# comment".
busybox_args() {
  local args=${1#*busybox }
  sed -E 's/[[:space:]]+#[^'"'"']*$//' <<<"$args"
}

# The documented servers: busybox commands that run httpd (`busybox httpd
# -...` or `busybox sh -c '... httpd ...'`; not prose naming it).
doc_servers() {
  doc_commands "$SRC/README.md" "$SRC"/conf/*/README.md "$SRC"/man/*.scd |
    grep -E "busybox (httpd -|sh -c '.*httpd)" | while IFS= read -r line; do busybox_args "$line"; done
}

# serve NS ARGS: runs `busybox ARGS` (split as the shell would) in container
# NS with a private /tmp, in the background; waits for it to listen on 80.
serve() {
  local ns=$1
  local -a args
  eval "args=($2)"
  start_bg "$ns" unshare -m --propagation private sh -c \
    'mount -t tmpfs docs-example /tmp && exec busybox "$@"' serve "${args[@]}"
  wait_for 5 listening "$ns" tcp 80
}

# stop_last: stops the last process start_bg started, and waits for it.
stop_last() {
  local pid
  pid=$(tail -n1 "$T/pids")
  kill "$pid"
  wait_for 5 eval "! alive $pid"
}

# labels_of LINE: the value of io.moat.labels (or MOAT_LABELS) in LINE.
labels_of() {
  sed -nE 's/.*(io\.moat\.labels|MOAT_LABELS)=([^ ]+).*/\2/p' <<<"$1"
}

@test "docs examples: every documented busybox httpd server serves a page" {
  local -a servers
  mapfile -t servers < <(doc_servers)
  # podman guide, docker guide, moat-annotations(5) twice, moat-hook(8).
  ((${#servers[@]} >= 5)) || fail "found ${#servers[@]} servers:" "${servers[@]}"
  add_container srv
  local ip s
  ip=$(ip_of srv)
  for s in "${servers[@]}"; do
    serve "$(ns_of srv)" "$s"
    run timeout 5 busybox wget -q -O - "http://$ip/"
    assert_eq "$status" 0 "wget of the page of: busybox $s"
    [[ -n $output ]] || fail "an empty page from: busybox $s"
    stop_last
  done
}

@test "docs examples: the podman guide's server and clients give what their comments say" {
  local section server allowed refused
  section=$(awk '/^## Run containers/ { s = 1; next } s && /^## / { exit } s' "$SRC/conf/podman/README.md" |
    doc_commands /dev/stdin)
  server=$(grep -E '^ +podman run -d --name web .*busybox' <<<"$section") || fail "no server in:" "$section"
  allowed=$(grep -E 'busybox wget .*# allowed$' <<<"$section") || fail "no allowed client in:" "$section"
  refused=$(grep -E 'busybox wget .*# Connection refused$' <<<"$section") ||
    fail "no refused client in:" "$section"

  local who line
  for who in web allowed refused; do
    case $who in
    web) line=$server ;;
    allowed) line=$allowed ;;
    refused) line=$refused ;;
    esac
    add_container "$who"
    run -0 hook prestart "$who" "$(jq -nc --arg l "$(labels_of "$line")" '{"io.moat.labels": $l}')"
  done
  serve "$(ns_of web)" "$(busybox_args "$server")"
  local -a args
  eval "args=($(busybox_args "${allowed//WEB_IP/$(ip_of web)}"))"
  run ns_run "$(ns_of allowed)" timeout 5 busybox "${args[@]}"
  assert_eq "$status" 0 "allowed: busybox ${args[*]}: $output"
  assert_eq "$output" "hello" "the page"
  eval "args=($(busybox_args "${refused//WEB_IP/$(ip_of web)}"))"
  run ns_run "$(ns_of refused)" timeout 5 busybox "${args[@]}"
  [[ $status -ne 0 ]] || fail "refused: busybox ${args[*]} exited 0: $output"
  assert_contains "$output" "Connection refused" "refused: busybox ${args[*]}"
}
