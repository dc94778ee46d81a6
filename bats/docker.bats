#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2016 # bats subshells; jq programs in single quotes
# moat-runtime, the docker shim: alone against a fake runc (its command line
# and the config.json edit), then under a private dockerd 20.10 with
# `docker run --runtime moat -e MOAT_NETWORK=...`, the hook attaching the
# container at prestart and detaching it at poststop.

load helpers
load docker

setup_file() { dockerd_start; }
teardown_file() { dockerd_stop; }

setup() {
  setup_moat_net
  docker_setup
  SHIM=$MOAT_BUILD/moat-runtime
  BUNDLE=$T/bundle
  mkdir -p "$BUNDLE"
  # A fake runc: records its arguments, one a line, and exits $FAKE_RC.
  cat >"$T/fake-runc" <<'EOF'
#!/bin/sh
out=$(dirname "$0")/fake.argv
: >"$out"
for a in "$@"; do printf '%s\n' "$a" >>"$out"; done
exit "${FAKE_RC:-0}"
EOF
  chmod +x "$T/fake-runc"
}

teardown() {
  docker_teardown
  teardown_moat_net
}

# config.json as docker writes it (shortened): libnetwork's prestart hook
# already there; the environment given by the extra arguments.
docker_like_config() {
  jq -nc --args '{ociVersion: "1.0.2",
    process: {terminal: false, user: {uid: 0, gid: 0}, args: ["sleep", "1"],
              env: (["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                     "HOSTNAME=0123456789ab"] + $ARGS.positional), cwd: "/"},
    root: {path: "/var/lib/docker/overlay2/x/merged"},
    hooks: {prestart: [{path: "/proc/4242/exe",
                        args: ["libnetwork-setkey", "-exec-root=/var/run/docker", "0123", "abcd"]}]},
    linux: {resources: {memory: {limit: -1}, cpu: {shares: 0}},
            seccomp: {syscalls: [{names: ["personality"], action: "SCMP_ACT_ALLOW",
                                  args: [{index: 0, value: 4294967295, op: "SCMP_CMP_EQ"}]}]},
            namespaces: [{type: "mount"}, {type: "network"}]}}' "$@"
}

# shim ARGS...: moat-runtime with the fake runc and the built hook; stdout
# and stderr together.
shim() {
  env -i PATH="$PATH" CNI_PATH=/opt/forwarded FAKE_RC="${FAKE_RC:-0}" "$SHIM" --moat-runtime "$T/fake-runc" \
    --moat-hook "$MOAT_BUILD/moat-hook" "$@" 2>&1
}

# The arguments the fake runc got, one a line.
fake_argv() { cat "$T/fake.argv"; }

@test "moat-runtime: moat's options are taken off, runc's command line goes through unchanged" {
  docker_like_config MOAT_NETWORK=n >"$BUNDLE/config.json"
  local -a runc_args=(--root /run/docker/runtime-runc/moby --log "$BUNDLE/log.json"
    --log-format json --systemd-cgroup create --bundle "$BUNDLE" --pid-file "$BUNDLE/init.pid"
    --console-socket /tmp/pty.sock "id with spaces" "")
  run -0 shim --moat-env MOAT_RUN_DIR=/run/x --moat-env=A=b "${runc_args[@]}"
  assert_eq "$output" ""
  assert_eq "$(fake_argv)" "$(printf '%s\n' "${runc_args[@]}")" "runc's arguments"
  # Other commands, even with moat's options, likewise.
  for cmd in start state "kill c1 9" "delete --force c1" "exec -t c1 sh" features; do
    # shellcheck disable=SC2086 # the command's words
    run -0 shim --moat-env X=y --root /r $cmd
    # shellcheck disable=SC2086
    assert_eq "$(fake_argv)" "$(printf '%s\n' --root /r $cmd)" "runc's arguments for $cmd"
  done
  # runc's status is moat-runtime's.
  FAKE_RC=3 run -3 shim state c1
}

@test "moat-runtime create: moat-hook at prestart and poststop, the rest of config.json kept" {
  docker_like_config MOAT_NETWORK=n MOAT_LABELS=app=a >"$BUNDLE/config.json"
  chmod 0640 "$BUNDLE/config.json"
  local before
  before=$(cat "$BUNDLE/config.json")
  run -0 shim --moat-env MOAT_RUN_DIR=/run/x --root /r create --bundle "$BUNDLE" c1
  local after
  after=$(cat "$BUNDLE/config.json")
  assert_jq "$after" '. | del(.hooks) == ($b | fromjson | del(.hooks))' --arg b "$before"
  # libnetwork's hook stays first; moat-hook follows.
  assert_jq "$after" '.hooks.prestart | length == 2 and .[0].args[0] == "libnetwork-setkey"'
  assert_jq "$after" '.hooks.prestart[1] == {path: $h, args: ["moat-hook", "prestart"],
    env: [$path, "CNI_PATH=/opt/forwarded", "MOAT_RUN_DIR=/run/x"]}' \
    --arg h "$MOAT_BUILD/moat-hook" --arg path "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  assert_jq "$after" '.hooks.poststop == [.hooks.prestart[1] | .args[1] = "poststop"]'
  # Numbers past 2^31 and negative ones unchanged.
  assert_jq "$after" '.linux.seccomp.syscalls[0].args[0].value == 4294967295
    and .linux.resources.memory.limit == -1'
  assert_eq "$(stat -c %a "$BUNDLE/config.json")" 640 "mode"
  assert_eq "$(ls -A "$BUNDLE")" config.json "bundle contents"
  # The bundle defaults to the working directory; an io.moat.* annotation
  # asks as well; `run` is edited like create.
  jq -c '.process.env = ["PATH=/bin"] | .annotations = {"io.moat.labels": "app=a"}' \
    <<<"$before" >"$BUNDLE/config.json"
  (cd "$BUNDLE" && shim run -d c1) || fail "run in the bundle failed"
  assert_jq "$(cat "$BUNDLE/config.json")" '[.hooks.prestart[].path, .hooks.poststop[].path]
    == ["/proc/4242/exe", $h, $h]' --arg h "$MOAT_BUILD/moat-hook"
}

@test "moat-runtime create twice: the hook is there once, the file not rewritten" {
  docker_like_config MOAT_NETWORK=n >"$BUNDLE/config.json"
  run -0 shim create -b "$BUNDLE" c1
  local once inode
  once=$(cat "$BUNDLE/config.json")
  inode=$(stat -c %i "$BUNDLE/config.json")
  run -0 shim create --bundle="$BUNDLE" c1
  assert_eq "$(cat "$BUNDLE/config.json")" "$once" "config.json after a second create"
  assert_eq "$(stat -c %i "$BUNDLE/config.json")" "$inode" "inode"
  assert_jq "$once" '(.hooks.prestart | length) == 2 and (.hooks.poststop | length) == 1'
}

@test "moat-runtime: a container without MOAT_* or io.moat.* is not touched" {
  docker_like_config FOO=MOAT_NETWORK >"$BUNDLE/config.json"
  jq -c '.annotations = {"org.example.moat": "x"}' "$BUNDLE/config.json" >"$T/c" &&
    mv "$T/c" "$BUNDLE/config.json"
  cp -p "$BUNDLE/config.json" "$T/orig.json"
  local inode
  inode=$(stat -c %i "$BUNDLE/config.json")
  run -0 shim create --bundle "$BUNDLE" c1
  cmp "$T/orig.json" "$BUNDLE/config.json" || fail "config.json changed"
  assert_eq "$(stat -c %i "$BUNDLE/config.json")" "$inode" "inode"
  assert_eq "$(fake_argv | tail -n 1)" c1 "runc ran"
}

@test "moat-runtime: a bad config.json is one line naming it, exit 1, file untouched, runc not run" {
  printf '{"process": {"env": ["MOAT_NETWORK=n"]}, \n  "hooks": [' >"$BUNDLE/config.json"
  cp -p "$BUNDLE/config.json" "$T/orig.json"
  run -1 shim --root /r --log "$T/log.json" --log-format json create --bundle "$BUNDLE" c1
  assert_match "$output" "^moat-runtime: $BUNDLE/config.json: line 2: [^"$'\n'"]+$"
  cmp "$T/orig.json" "$BUNDLE/config.json" || fail "config.json changed"
  [[ ! -e $T/fake.argv ]] || fail "runc ran: $(fake_argv)"
  # containerd reads the reason from runc's --log (docker run prints it).
  assert_jq "$(cat "$T/log.json")" '.level == "error" and (.msg | startswith($m))
    and (.time | test("^[0-9-]+T[0-9:]+Z$"))' --arg m "moat-runtime: $BUNDLE/config.json: line 2"

  docker_like_config MOAT_NETWORK=n | jq -c '.hooks = {prestart: {}}' >"$BUNDLE/config.json"
  run -1 shim create --bundle "$BUNDLE" c1
  assert_eq "$output" "moat-runtime: $BUNDLE/config.json: hooks.prestart: must be an array"
  run -1 shim create --bundle "$T/nowhere" c1
  assert_eq "$output" "moat-runtime: $T/nowhere/config.json: No such file or directory"
  # A hook that is not there is refused before anything changes.
  docker_like_config MOAT_NETWORK=n >"$BUNDLE/config.json"
  cp -p "$BUNDLE/config.json" "$T/orig.json"
  run -1 shim --moat-hook /nonexistent/moat-hook create --bundle "$BUNDLE" c1
  assert_eq "$output" "moat-runtime: moat-hook /nonexistent/moat-hook: No such file or directory"
  cmp "$T/orig.json" "$BUNDLE/config.json" || fail "config.json changed"
  # Bad options of its own.
  run -1 shim --moat-env NOVALUE create c1
  assert_eq "$output" "moat-runtime: --moat-env: \"NOVALUE\": want NAME=VALUE"
  run -1 shim --moat-runtime
  assert_eq "$output" "moat-runtime: --moat-runtime: missing value"
  # A runtime that is not there.
  run -1 "$SHIM" --moat-runtime /nonexistent/runc state c1
  assert_eq "$output" "moat-runtime: cannot run /nonexistent/runc: No such file or directory"
}

@test "moat-runtime --help and --version are its own; runc's after other arguments" {
  run -0 "$SHIM" --help
  assert_contains "$output" "Usage: moat-runtime"
  run -0 "$SHIM" --moat-hook /h --version
  assert_eq "${lines[0]}" "moat-runtime version $(sed -n 's/^VERSION *?= *//p' "$BATS_TEST_DIRNAME/../Makefile")"
  assert_contains "$output" "hook: /h"
  run -0 shim --root /r --version
  assert_eq "$(fake_argv)" "$(printf '%s\n' --root /r --version)" "runc's arguments"
}

# ---------------------------------------------------------------- dockerd

@test "docker: --runtime moat leaves a container without MOAT_* untouched" {
  run -0 dk_run plain --runtime moat --network none
  assert_eq "$(dk inspect -f '{{.State.Running}}' "$PFX-plain")" true "running"
  local config
  config=$(dk_bundle_config plain)
  assert_jq "$config" '[.hooks[]?[]?.path] | all(endswith("moat-hook") | not)'
  assert_jq "$config" '.hooks.prestart[0].args[0] == "libnetwork-setkey"'
  assert_eq "$(all_records)" "" "records under $MOAT_RUN_DIR"
  run -0 dk rm -f "$PFX-plain"
}

@test "docker 20.10 cannot set annotations: --annotation is refused, so moat reads MOAT_* variables" {
  local version
  version=$(dk version -f '{{.Server.Version}}')
  [[ $version == 20.10.* ]] || skip "docker $version (the test is about 20.10)"
  run -125 dk run --rm --runtime moat --annotation io.moat.labels=app=a "$DOCKER_IMAGE" true
  assert_contains "$output" "unknown flag: --annotation"
}

@test "docker: a moat-runtime error reaches docker run's message; nothing runs" {
  # moat-runtime with a hook that is not there: create refuses.
  run dk_run c1 --runtime moat-nohook --network none -e MOAT_NETWORK=n
  ((status != 0)) || fail "docker run succeeded: $output"
  assert_contains "$output" "moat-runtime: moat-hook /nonexistent/moat-hook: No such file or directory"
  assert_eq "$(dk ps -q --filter "name=$PFX-c1")" "" "running containers"
  # A container that does not ask for moat runs under it all the same.
  run -0 dk_run c2 --runtime moat-nohook --network none
}

@test "docker: --ulimit core=-1 (18446744073709551615): untouched without moat, kept digit for digit with it" {
  local id before after limits='"hard":18446744073709551615,"soft":18446744073709551615'
  # No moat settings: runc reads the very bytes containerd wrote.
  run -0 dk_run plain --runtime moat-seen --network none --ulimit core=-1
  id=$(dk_id plain)
  before=$DK/seen/$id.before
  [[ -f $before && -f $DK/seen/$id.after ]] || fail "no copies of $id's config.json"
  assert_contains "$(cat "$before")" "$limits"
  cmp "$before" "$DK/seen/$id.after" || fail "config.json changed on its way to runc"
  assert_eq "$(dk_exec plain sh -c 'ulimit -c')" unlimited "RLIMIT_CORE in the container"
  # Asking for moat: the hook added, every number as it was written.
  run -0 dk_run m --runtime moat-seen --network none -e "MOAT_NETWORK=$NET" --ulimit core=-1
  id=$(dk_id m)
  after=$(cat "$DK/seen/$id.after")
  assert_contains "$after" "$limits"
  assert_jq "$after" '[.hooks.prestart[-1].path, .hooks.poststop[-1].path] == [$h, $h]' \
    --arg h "$MOAT_BUILD/moat-hook"
  # ... and the container's docker name as io.moat.name (docs/design.md, "Names").
  assert_jq "$after" '.annotations["io.moat.name"] == $n' --arg n "$PFX-m"
  assert_eq "$(jq -cS 'del(.hooks, .annotations)' <<<"$after")" \
    "$(jq -cS 'del(.hooks, .annotations)' "$DK/seen/$id.before")" "config.json but its hooks and name"
  assert_eq "$(dk_exec m sh -c 'ulimit -c')" unlimited "RLIMIT_CORE in the moat container"
  dk_ip m >/dev/null
  assert_eq "$(network_records | wc -l)" 1 "records in $MOAT_RUN_DIR/$NET"
}

@test "docker: two containers sharing a label talk through moat, a third with another label is refused" {
  dk_start a -e MOAT_LABELS=app=a
  dk_start b -e MOAT_LABELS=app=a
  dk_start c -e MOAT_LABELS=app=c
  local ip_a port
  ip_a=$(dk_ip a) || fail "a has no address"
  assert_match "$ip_a" "^${NETPFX//./\\.}\." "a's address"
  assert_eq "$(network_records | wc -l)" 3 "records in $MOAT_RUN_DIR/$NET"
  # The hook is in the bundle's config.json at both stages.
  assert_jq "$(dk_bundle_config a)" '[.hooks.prestart[-1].path, .hooks.poststop[-1].path]
    == [$h, $h]' --arg h "$MOAT_BUILD/moat-hook"
  port=$(random_port)
  dk_tcp_listen a "$port"
  run -0 dk_tcp_connect b "$ip_a" "$port"
  run -1 dk_tcp_connect c "$ip_a" "$port"
  assert_eq "$output" refused "c (app=c) to a (app=a)"
  # The other way round, too: b listens, a reaches it, c does not.
  local ip_b
  ip_b=$(dk_ip b) || fail "b has no address"
  dk_tcp_listen b "$port"
  run -0 dk_tcp_connect a "$ip_b" "$port"
  run -1 dk_tcp_connect c "$ip_b" "$port"
  assert_eq "$output" refused "c (app=c) to b (app=a)"
}

@test "docker: MOAT_PUBLISH publishes the container's port on the host (docker's own -p cannot with --network none); rm takes it" {
  local hp before
  before=$(moat_links)
  hp=$(random_port)
  dk_start web -e MOAT_LABELS=app=web -e "MOAT_PUBLISH=$hp:80"
  assert_jq "$(cat "$(network_records)")" '.publish == [$p]' --arg p "$hp:80/tcp"
  dk_tcp_listen web 80
  PROBE_TOKEN=dk-lo run -0 ns_tcp_connect host 127.0.0.1 "$hp"
  PROBE_TOKEN=dk-gw run -0 ns_tcp_connect host "$GW" "$hp"
  run -0 dk rm -f "$PFX-web"
  PROBE_TOKEN=dk-gone run ns_tcp_connect host 127.0.0.1 "$hp"
  assert_eq "$output" refused "127.0.0.1:$hp after docker rm"
  assert_nothing_left "$before"
}

@test "docker rm -f leaves nothing: no record, no link, no element" {
  local before
  before=$(moat_links)
  dk_start a -e MOAT_LABELS=app=a
  dk_start b -e MOAT_LABELS=app=a
  assert_eq "$(network_records | wc -l)" 2 "records"
  link_exists "$BR" || fail "no bridge $BR"
  [[ -n $(nft_elems_of_test) ]] || fail "no nft element for the test's network"
  run -0 dk rm -f "$PFX-a" "$PFX-b"
  assert_nothing_left "$before"
}

@test "docker: a malformed MOAT_LABELS fails docker run with the hook's reason and leaves nothing" {
  local before
  before=$(moat_links)
  run dk_run bad --runtime moat --network none -e "MOAT_NETWORK=$NET" -e "MOAT_LABELS=app=a,=x"
  ((status != 0)) || fail "docker run succeeded: $output"
  assert_contains "$output" "MOAT_LABELS: "
  assert_eq "$(dk ps -q --filter "name=$PFX-bad")" "" "running containers"
  run -0 dk rm -f "$PFX-bad"
  assert_nothing_left "$before"
}

@test "docker: without --network none the container has docker's eth0: docker run says to use --network none; nothing left" {
  local before dnet=$PFX-dnet
  before=$(moat_links)
  pick_free_24
  echo "$dnet" >>"$T/docker-networks"
  run -0 dk network create --driver bridge --subnet "10.$PICK_A.$PICK_B.0/24" "$dnet"
  run dk_run eth --runtime moat --network "$dnet" -e "MOAT_NETWORK=$NET"
  ((status != 0)) || fail "docker run succeeded: $output"
  assert_contains "$output" "stderr: moat-hook: container \"$(dk_id eth)\": already has an interface \"eth0\" (its engine gave it a network): run it with --network none so that moat attaches it to network \"$NET\""
  assert_eq "$(dk ps -q --filter "name=$PFX-eth")" "" "running containers"
  run -0 dk rm -f "$PFX-eth"
  assert_eq "$(find "$MOAT_RUN_DIR/$NET/ipam" -type f 2>/dev/null)" "" "addresses taken"
  assert_nothing_left "$before"
}
