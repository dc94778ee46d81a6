#!/usr/bin/env bats
# The man pages against the code and the README: every io.moat.* key, every
# moatctl verb, every network configuration key and CNI error code is
# documented where a user looks for it, and every binary's --help points at
# its man page. No root, no kernel state: text only.

load helpers

setup() {
  SRC=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
  command -v scdoc >/dev/null || fail "scdoc is not installed (hack/install-deps.sh)"
}

# render PAGE: the man page man/PAGE.scd as plain text, on one long line per
# paragraph and without hyphenation, so a key is never split across lines.
render() {
  local page=$1
  [[ -f $SRC/man/$page.scd ]] || fail "no man/$page.scd"
  scdoc <"$SRC/man/$page.scd" | groff -t -man -Tutf8 -rLL=300n -rHY=0 -P-cbou 2>/dev/null |
    sed -e 's/\xe2\x80\x90/-/g' -e 's/\xe2\x88\x92/-/g'
}

# section TEXT HEADER: the lines of section HEADER (a line of capitals at
# the left margin) up to the next section.
section() {
  awk -v h="$2" '/^[A-Z]/ { inside = ($0 == h); next } inside' <<<"$1"
}

# The io.moat.* keys common/model/annot.h declares.
annotation_keys() {
  grep -oE 'io\.moat\.[a-z][a-z-]*' "$SRC/common/model/annot.h" | LC_ALL=C sort -u
}

# moatctl's verbs, from the command list of its --help.
moatctl_verbs() {
  "$MOAT_BUILD/moatctl" --help | sed -nE 's/^  ([a-z]+)( .*)?$/\1/p' | LC_ALL=C sort -u
}

# The keys of the README's network configuration table.
readme_config_keys() {
  awk '/^## Network configuration/ { s = 1 } s && /^## / && !/Network configuration/ { exit }
       s && /^\| `/ { print }' "$SRC/README.md" | sed -E 's/^\| `([^`]+)`.*/\1/'
}

# KEY DEFAULT pairs of that table whose default is one `value`.
readme_config_defaults() {
  awk '/^## Network configuration/ { s = 1 } s && /^## / && !/Network configuration/ { exit }
       s && /^\| `/ { print }' "$SRC/README.md" |
    sed -nE 's/^\| `([^`]+)` \| `([^`]+)` \|.*/\1 \2/p'
}

@test "docs: every io.moat.* key of common/model/annot.h is in moat-annotations(5), with its MOAT_* name" {
  local text keys key var
  text=$(render moat-annotations.5)
  keys=$(annotation_keys)
  [[ $(wc -l <<<"$keys") -ge 10 ]] || fail "found too few keys in annot.h: $keys"
  for key in $keys; do
    # A key of its own in KEYS, at the start of a line.
    grep -qE "^ +$key\$" <<<"$(section "$text" KEYS)" || fail "moat-annotations(5) KEYS: no entry for $key"
    assert_contains "$(section "$text" SYNOPSIS)" "$key=" "moat-annotations(5) SYNOPSIS"
    var=MOAT_$(tr 'a-z-' 'A-Z_' <<<"${key#io.moat.}")
    assert_match "$(section "$text" "ENVIRONMENT FALLBACK")" "$var +│ +$key( |│)" \
      "moat-annotations(5) ENVIRONMENT FALLBACK row for $var"
  done
}

@test "docs: moat-annotations(5) names no io.moat.* key the code lacks" {
  local text keys key
  text=$(render moat-annotations.5)
  keys=$(annotation_keys)
  for key in $(grep -oE 'io\.moat\.[a-z][a-z-]*[a-z]' <<<"$text" | LC_ALL=C sort -u); do
    grep -qxF "$key" <<<"$keys" || fail "moat-annotations(5) documents $key, which annot.h does not declare"
  done
}

@test "docs: every verb of moatctl --help has a COMMANDS entry and a SYNOPSIS line in moatctl(8)" {
  local text verbs verb
  text=$(render moatctl.8)
  verbs=$(moatctl_verbs)
  [[ $(wc -l <<<"$verbs") -ge 10 ]] || fail "found too few verbs in moatctl --help: $verbs"
  for verb in $verbs; do
    grep -qE "^ {7}$verb( |\$)" <<<"$(section "$text" COMMANDS)" ||
      fail "moatctl(8) COMMANDS: no entry for $verb"
    grep -qE "moatctl (\[--json\] )?$verb( |\$)" <<<"$(section "$text" SYNOPSIS)" ||
      fail "moatctl(8) SYNOPSIS: no line for $verb"
  done
}

@test "docs: every option of moatctl is in moatctl(8) OPTIONS" {
  local text opts opt
  text=$(section "$(render moatctl.8)" OPTIONS)
  opts=$(grep -oE '\{ "[a-z]+", (no|required)_argument' "$SRC/ctl/main.c" | sed -E 's/\{ "([a-z]+)".*/\1/')
  [[ -n $opts ]] || fail "no options found in ctl/main.c"
  for opt in $opts; do
    grep -qE "(^| )--$opt( |,|\$)" <<<"$text" || fail "moatctl(8) OPTIONS: no --$opt"
  done
}

@test "docs: every network configuration key of the README is in moat(8), with its default" {
  local text conf keys key def
  text=$(render moat.8)
  conf=$(section "$text" "NETWORK CONFIGURATION")
  keys=$(readme_config_keys)
  [[ $(wc -l <<<"$keys") -ge 10 ]] || fail "found too few keys in the README's table: $keys"
  for key in $keys; do
    grep -qE "^ {7}$key \(" <<<"$conf" || fail "moat(8) NETWORK CONFIGURATION: no entry for $key"
  done
  while read -r key def; do
    grep -qE "^ {7}$key \(.*default $def\)" <<<"$conf" ||
      fail "moat(8): $key: default $def (as in the README) not given"
  done < <(readme_config_defaults)
}

@test "docs: every key common/model/config.c reads from the network configuration is in moat(8)" {
  local text keys key
  text=$(render moat.8)
  keys=$(grep -oE '\(c->root, "[A-Za-z]+"' "$SRC/common/model/config.c" | sed -E 's/.*"([A-Za-z]+)"/\1/' | LC_ALL=C sort -u)
  [[ -n $keys ]] || fail "no keys found in config.c"
  for key in $keys; do
    grep -qE "(^|[^A-Za-z])$key([^A-Za-z]|\$)" <<<"$text" || fail "moat(8) does not mention $key"
  done
  # The capabilities and CNI_ARGS it reads.
  for key in ips mac portMappings io.kubernetes.cri.pod-annotations args.cni.labels \
    K8S_POD_NAME K8S_POD_NAMESPACE IP= MOAT_RUN_DIR; do
    assert_contains "$text" "$key" "moat(8)"
  done
}

@test "docs: every key of the ceiling (common/model/ceiling.c reads from \"allow\") is in moat(8) and the README" {
  local text keys key readme
  text=$(section "$(render moat.8)" "NETWORK CONFIGURATION")
  readme=$(awk '/^## Network configuration/ { s = 1 } s && /^\| `allow`/ { print }' "$SRC/README.md")
  keys=$(grep -oE '\(allow, "[A-Za-z]+"' "$SRC/common/model/ceiling.c" | sed -E 's/.*"([A-Za-z]+)"/\1/' | LC_ALL=C sort -u)
  [[ $(wc -l <<<"$keys") -ge 7 ]] || fail "found too few keys in ceiling.c: $keys"
  for key in $keys; do
    grep -qE "^ +\"$key\":" <<<"$text" || fail "moat(8): allow has no \"$key\" in its example"
    grep -vE '^ +"' <<<"$text" | grep -qE "(^| )$key [a-z(]" || fail "moat(8) does not describe allow's $key"
    assert_contains "$readme" "\"$key\"" "README's allow row"
  done
}

@test "docs: every CNI error code of common/base/error.h and the README is in moat(8) ERRORS" {
  local errors codes code
  errors=$(section "$(render moat.8)" ERRORS)
  codes=$( (
    sed -nE 's/^ *MOAT_E_[A-Z_]+ = ([0-9]+),.*/\1/p' "$SRC/common/base/error.h"
    awk '/^\| code \| meaning \|/ { s = 1; next } s && /^\| [0-9]/ { print $2 } s && /^$/ { exit }' "$SRC/README.md"
  ) | sort -nu)
  [[ $(wc -l <<<"$codes") -ge 14 ]] || fail "found too few codes: $codes"
  for code in $codes; do
    grep -qE "^ *│ *$code +│" <<<"$errors" || fail "moat(8) ERRORS: no row for code $code"
  done
}

@test "docs: every verb the plugin accepts is in moat(8) VERBS" {
  local verbs verb
  verbs=$(section "$(render moat.8)" VERBS)
  for verb in ADD DEL CHECK GC STATUS VERSION; do
    grep -qE "^ {7}$verb\$" <<<"$verbs" || fail "moat(8) VERBS: no entry for $verb"
    grep -qF "\"$verb\"" "$SRC/common/model/config.c" || fail "config.c does not know $verb"
  done
}

@test "docs: moat-runtime(8) documents every option of moat-runtime --help" {
  local text opts opt
  text=$(section "$(render moat-runtime.8)" OPTIONS)
  opts=$("$MOAT_BUILD/moat-runtime" --help | grep -oE -- '--moat-[a-z]+' | LC_ALL=C sort -u)
  [[ -n $opts ]] || fail "moat-runtime --help lists no --moat-* option"
  for opt in $opts; do
    grep -qE "^ {7}$opt " <<<"$text" || fail "moat-runtime(8) OPTIONS: no entry for $opt"
  done
}

@test "docs: every binary's --help exits 0 on stdout and names its man page, which exists" {
  local b page
  for b in moat moat-hook moatctl moat-runtime; do
    run --separate-stderr "$MOAT_BUILD/$b" --help
    assert_eq "$status" 0 "$b --help exit status"
    assert_eq "$stderr" "" "$b --help stderr"
    assert_contains "$output" "Usage: $b" "$b --help"
    page=$(ls "$SRC"/man/"$b".[0-9].scd 2>/dev/null | head -1)
    [[ -n $page ]] || fail "no man page man/$b.<section>.scd"
    page=${page##*/}
    page=${page%.scd}
    assert_contains "$output" "$b(${page##*.})" "$b --help names its man page"
    run -0 "$MOAT_BUILD/$b" -h
  done
}

@test "docs: a wrong option is a usage error with the documented exit status" {
  # The plugin stays a CNI plugin: a CNI error (4, no CNI_COMMAND) on stdout.
  run --separate-stderr env -u CNI_COMMAND "$MOAT_BUILD/moat" --bogus </dev/null
  assert_eq "$status" 1 "moat --bogus"
  assert_jq "$output" '.code == 4'
  # moatctl: 2 and the usage on stderr.
  run --separate-stderr "$MOAT_BUILD/moatctl" --bogus
  assert_eq "$status" 2 "moatctl --bogus"
  assert_contains "$stderr" "Usage: moatctl"
  run --separate-stderr "$MOAT_BUILD/moatctl" frobnicate
  assert_eq "$status" 2 "moatctl frobnicate"
  # The hook: 1 (what a runtime reads as a failed hook), the usage on stderr.
  run --separate-stderr "$MOAT_BUILD/moat-hook" --bogus </dev/null
  assert_eq "$status" 1 "moat-hook --bogus"
  assert_contains "$stderr" "Usage: moat-hook"
  # moat-runtime: its own --moat-* options are checked, 1 as runc's errors.
  run --separate-stderr "$MOAT_BUILD/moat-runtime" --moat-bogus x
  assert_eq "$status" 1 "moat-runtime --moat-bogus"
  assert_contains "$stderr" "--moat-bogus"
}

@test "docs: every man page a page refers to as moat*(N) exists" {
  local f ref
  for f in "$SRC"/man/*.scd; do
    for ref in $(grep -oE '\*moat[a-z-]*\*\([0-9]\)' "$f" | tr -d '*' | LC_ALL=C sort -u); do
      local name=${ref%(*} sec=${ref#*(}
      sec=${sec%)}
      [[ -f $SRC/man/$name.$sec.scd ]] || fail "${f##*/} refers to $ref, which does not exist"
    done
  done
}

@test "docs: every test SECURITY.md names as a promise's proof exists" {
  run -0 python3 - "$SRC" <<'PY'
import glob, os, re, sys
src = sys.argv[1]
text = ' '.join(open(os.path.join(src, 'SECURITY.md')).read().split())
bats = {}
for f in glob.glob(os.path.join(src, 'bats', '*.bats')):
    body = open(f).read()
    bats['bats/' + os.path.basename(f)] = {
        ' '.join(n.replace('\\"', '"').split()) for n in re.findall(r'@test "((?:[^"\\]|\\.)*)"', body)}
seen, bad = 0, []
# After `bats/F.bats`: come quoted test names, separated by ", " or " and ";
# a name may hold quotes itself, so the longest test of F that matches is
# taken; one cut short ends in "…".
for m in re.finditer(r'`(bats/[\w.-]+\.bats)`: "', text):
    names = sorted(bats.get(m.group(1), set()), key=len, reverse=True)
    rest = text[m.end() - 1:]
    while rest.startswith('"'):
        seen += 1
        hit = next((t for t in names if rest.startswith('"%s"' % t)), None)
        if hit is None:
            cut = re.match(r'"([^"]*…)"', rest)
            if cut and any(t.startswith(cut.group(1)[:-1].rstrip()) for t in names):
                hit = cut.group(1)
        if hit is None:
            bad.append('%s: %s' % (m.group(1), rest[:80]))
            break
        rest = rest[len(hit) + 2:]
        sep = re.match(r',? (?:and )?(?=")', rest)
        if not sep:
            break
        rest = rest[sep.end():]
for m in re.finditer(r'`((?:common|ctl|oci-hook|runtime)/tests/test_\w+\.c)`: ((?:`\w+`(?:,? (?:and )?)?)+)', text):
    path = os.path.join(src, m.group(1))
    body = open(path).read() if os.path.exists(path) else ''
    for fn in re.findall(r'`(\w+)`', m.group(2)):
        seen += 1
        if not re.search(r'\b%s\b' % fn, body):
            bad.append('%s: %s' % (m.group(1), fn))
print('%d tests named' % seen)
for b in bad:
    print('missing: ' + b)
sys.exit(1 if bad or seen < 40 else 0)
PY
  assert_contains "$output" "tests named"
}

@test "docs: the ruleset's listing in ruleset.h says every rule of the table, chain by chain, in order" {
  run python3 - "$SRC/common/ruleset/ruleset.c" "$SRC/common/ruleset/ruleset.h" <<'PY'
import re, sys
code, header = (open(p).read() for p in sys.argv[1:3])
families = {'INET': 'inet', 'BRIDGE': 'bridge'}
norm = lambda s: ' '.join(s.split())
# The table: (family, chain, text) in order; adjacent literals joined.
table = []
rules = code[code.index('moat_rule_defs[] = {'):]
for m in re.finditer(r'\{\s*NFPROTO_(INET|BRIDGE),\s*"([^"]+)",\s*((?:"[^"]*"\s*)+),', rules):
    text = ''.join(re.findall(r'"([^"]*)"', m.group(3)))
    chain = 'id_<identity>' if m.group(2) == 'id_' else m.group(2)
    table.append((families[m.group(1)], chain, norm(text)))
# The listing: each chain's lines joined, and its rules counted (a rule
# starts 5 spaces in; wrapped lines and notes are indented further).
listing, starts, family, chain = {}, {}, None, None
start = header.index(' * table inet moat')
for line in header[start:header.index('*/', start)].splitlines():
    body = line[3:] if line.startswith(' * ') else ''
    m = re.match(r'table (inet|bridge) moat', body)
    if m:
        family, chain = m.group(1), None
        continue
    m = re.match(r'  chain (\S+)', body)
    if m:
        chain = (family, m.group(1))
        listing[chain], starts[chain] = '', 0
        continue
    if re.match(r'  (set|map) ', body):
        chain = None
    elif chain and body.strip():
        listing[chain] += ' ' + body.strip()
        starts[chain] += bool(re.match(r'    \S', body))
bad, pos, count = [], {}, {}
for family, name, text in table:
    key = (family, name)
    if key not in listing:
        bad.append('chain %s %s: in the table, not in the listing' % key)
        continue
    at = norm(listing[key]).find(text, pos.get(key, 0))
    if at < 0:
        bad.append('%s %s: "%s" missing from the listing, or out of order' % (family, name, text))
    else:
        pos[key] = at + len(text)
    count[key] = count.get(key, 0) + 1
for key in listing:
    if starts[key] != count.get(key, 0):
        bad.append('chain %s %s: the listing has %d rules, the table %d' % (key + (starts[key], count.get(key, 0))))
print('%d rules in %d chains' % (len(table), len(listing)))
print('\n'.join(bad))
sys.exit(1 if bad or len(table) < 40 else 0)
PY
  [[ $status -eq 0 ]] || fail "$output"
  assert_contains "$output" "rules in"
}
