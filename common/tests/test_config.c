/* SPDX-License-Identifier: Apache-2.0 */
/* Network configuration, CNI environment and version handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "base/ifname.h"
#include "model/config.h"

#define BASE "\"cniVersion\":\"1.1.0\",\"name\":\"net1\",\"type\":\"moat\""

static int
parse (const char *text, struct moat_netconf *c, moat_err_t *err)
{
  return moat_netconf_parse (text, MOAT_CMD_ADD, c, err);
}

/* Asserts that `text` is refused with `code` and a message containing `needle`. */
static void
assert_refused (const char *text, int code, const char *needle)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };

  assert_int_equal (parse (text, &c, &err), -1);
  if (err.code != code || !strstr (err.msg, needle))
    fail_msg ("input %s: got code %d \"%s\", want code %d containing \"%s\"", text, err.code,
              err.msg, code, needle);
  moat_netconf_free (&c);
}

static void
test_minimal_defaults (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };
  char gw[INET_ADDRSTRLEN];

  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\"}", &c, &err), 0);
  assert_string_equal (c.name, "net1");
  assert_string_equal (c.bridge, "moat0");
  assert_int_equal (c.prefixlen, 24);
  inet_ntop (AF_INET, &c.gateway, gw, sizeof (gw));
  assert_string_equal (gw, "10.1.0.1");
  assert_true (c.reject);
  assert_false (c.log);
  assert_false (c.masquerade);
  assert_false (c.internet);
  assert_false (c.keep_bridge);
  assert_null (c.ipam_type);
  assert_null (c.prev_result);
  assert_int_equal (c.n_labels, 0);
  moat_netconf_free (&c);
}

static void
test_all_keys (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };
  char ip[INET_ADDRSTRLEN];

  assert_int_equal (
      parse ("{" BASE ",\"bridge\":\"br-x\",\"subnet\":\"10.8.0.0/16\",\"gateway\":\"10.8.0.254\","
             "\"mtu\":1400,\"masquerade\":true,\"internet\":true,\"reject\":false,\"log\":true,"
             "\"keepBridge\":true,\"policyFile\":\"/p.json\",\"unknownKey\":[1,2],"
             "\"runtimeConfig\":{\"ips\":[\"10.8.0.9/16\"],\"mac\":\"02:00:00:00:00:09\","
             "\"io.kubernetes.cri.pod-annotations\":{\"io.moat.labels\":\"app=web\"}},"
             "\"args\":{\"cni\":{\"labels\":[{\"key\":\"app\",\"value\":\"web\"},"
             "{\"key\":\"env\",\"value\":\"dev\"}]}}}",
             &c, &err),
      0);
  assert_string_equal (c.bridge, "br-x");
  assert_int_equal (c.mtu, 1400);
  assert_true (c.masquerade && c.internet && !c.reject && c.keep_bridge && c.log);
  assert_string_equal (c.policy_file, "/p.json");
  assert_true (c.have_ip);
  inet_ntop (AF_INET, &c.ip, ip, sizeof (ip));
  assert_string_equal (ip, "10.8.0.9");
  assert_true (c.have_mac);
  assert_int_equal (c.mac[5], 9);
  assert_non_null (c.pod_annotations);
  assert_int_equal (c.n_labels, 2);
  assert_string_equal (c.labels[1].key, "env");
  assert_string_equal (c.labels[1].value, "dev");
  moat_netconf_free (&c);
}

static void
test_delegated_ipam_needs_no_subnet (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };

  assert_int_equal (parse ("{" BASE ",\"ipam\":{\"type\":\"host-local\"},"
                           "\"runtimeConfig\":{\"portMappings\":[]}}",
                           &c, &err),
                    0);
  assert_string_equal (c.ipam_type, "host-local");
  assert_false (c.have_subnet);
  moat_netconf_free (&c);
}

static void
test_port_mappings (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };

  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":"
                           "{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,"
                           "\"protocol\":\"tcp\",\"hostIP\":\"\"},{\"hostPort\":53,"
                           "\"containerPort\":5353,\"protocol\":\"UDP\",\"hostIP\":"
                           "\"127.0.0.1\"}]}}",
                           &c, &err),
                    0);
  assert_int_equal (c.publish.n, 2);
  assert_int_equal (c.publish.v[0].host.s_addr, 0);
  assert_int_equal (c.publish.v[0].host_port, 8080);
  assert_int_equal (c.publish.v[0].port, 80);
  assert_int_equal (c.publish.v[1].proto, 17);
  assert_int_equal (c.publish.v[1].host.s_addr, htonl (0x7f000001));
  moat_netconf_free (&c);
}

static void
test_bad_input (void **state)
{
  assert_refused ("{\"cniVersion\":", MOAT_E_DECODE, "invalid JSON");
  assert_refused ("[1]", MOAT_E_DECODE, "object");
  assert_refused ("{\"name\":\"n\",\"subnet\":\"10.1.0.0/24\"}", MOAT_E_CONFIG, "cniVersion");
  assert_refused ("{\"cniVersion\":\"9.9.9\",\"name\":\"n\"}", MOAT_E_VERSION, "9.9.9");
  assert_refused ("{\"cniVersion\":1,\"name\":\"n\"}", MOAT_E_CONFIG, "cniVersion");
  assert_refused ("{\"cniVersion\":\"1.0.0\",\"subnet\":\"10.1.0.0/24\"}", MOAT_E_CONFIG, "name");
  assert_refused ("{\"cniVersion\":\"1.0.0\",\"name\":\"a/b\",\"subnet\":\"10.1.0.0/24\"}",
                  MOAT_E_CONFIG, "name");
  assert_refused ("{" BASE "}", MOAT_E_CONFIG, "subnet: required");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/33\"}", MOAT_E_CONFIG, "subnet");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0\"}", MOAT_E_CONFIG, "subnet");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.300/24\"}", MOAT_E_CONFIG, "subnet");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/31\"}", MOAT_E_CONFIG, "subnet: prefix");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.5/24\"}", MOAT_E_CONFIG, "host bits");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24x\"}", MOAT_E_CONFIG, "subnet");
  assert_refused ("{" BASE ",\"subnet\":7}", MOAT_E_CONFIG, "subnet: must be a string");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"bridge\":\"abcdefghijklmnop\"}",
                  MOAT_E_CONFIG, "bridge: \"abcdefghijklmnop\" is longer than 15");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"bridge\":\"a b\"}", MOAT_E_CONFIG,
                  "bridge");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"gateway\":\"10.2.0.1\"}", MOAT_E_CONFIG,
                  "gateway");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"gateway\":\"10.1.0.255\"}", MOAT_E_CONFIG,
                  "gateway");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"mtu\":10}", MOAT_E_CONFIG, "mtu");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"mtu\":\"1500\"}", MOAT_E_CONFIG, "mtu");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"reject\":\"no\"}", MOAT_E_CONFIG,
                  "reject");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"masquerade\":1}", MOAT_E_CONFIG,
                  "masquerade");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"log\":\"yes\"}", MOAT_E_CONFIG, "log");
  assert_refused ("{" BASE ",\"ipam\":{\"subnet\":\"x\"}}", MOAT_E_CONFIG, "ipam.type");
  assert_refused ("{" BASE ",\"ipam\":{\"type\":\"../evil\"}}", MOAT_E_CONFIG, "ipam.type");
  assert_refused ("{" BASE ",\"ipam\":[]}", MOAT_E_CONFIG, "ipam");
  assert_refused ("{" BASE ",\"ipam\":{\"type\":\"moat\"}}", MOAT_E_CONFIG, "ipam.type");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"mac\":\"zz\"}}",
                  MOAT_E_CONFIG, "runtimeConfig.mac");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"mac\":"
                  "\"01:00:00:00:00:01\"}}",
                  MOAT_E_CONFIG, "multicast");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"ips\":[\"x\"]}}",
                  MOAT_E_CONFIG, "runtimeConfig.ips");
  assert_refused ("{" BASE
                  ",\"subnet\":\"10.1.0.0/24\",\"args\":{\"cni\":{\"labels\":[{\"key\":1}]}}}",
                  MOAT_E_CONFIG, "args.cni.labels[0]");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"portMappings\":"
                  "[{\"hostPort\":8080,\"containerPort\":0,\"protocol\":\"tcp\"}]}}",
                  MOAT_E_CONFIG, "runtimeConfig.portMappings[0].containerPort");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"portMappings\":"
                  "[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"sctp\"}]}}",
                  MOAT_E_CONFIG, "runtimeConfig.portMappings[0]: item \"sctp\": protocol");
  assert_refused (
      "{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"portMappings\":"
      "[{\"hostPort\":8080,\"containerPort\":80,\"hostIP\":\"::1\"}]}}",
      MOAT_E_CONFIG,
      "hostIP ::1: IPv6 loopback cannot be published by the kernel; use the host's IPv6 address");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"portMappings\":"
                  "[{\"hostPort\":8080,\"containerPort\":80},"
                  "{\"hostPort\":8080,\"containerPort\":81,\"hostIP\":\"10.0.0.1\"}]}}",
                  MOAT_E_CONFIG, "publish one host port");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"prevResult\":[]}", MOAT_E_CONFIG,
                  "prevResult");
}

/* "cluster" (docs/cluster.md): a name, a store URL, this node's name. */
static void
test_cluster (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };

  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.90.1.0/24\",\"cluster\":{\"name\":\"c1\","
                           "\"store\":\"http://192.0.2.1:2379\",\"node\":\"n1\"}}",
                           &c, &err),
                    0);
  assert_string_equal (c.cluster_name, "c1");
  assert_string_equal (c.cluster_store, "http://192.0.2.1:2379");
  assert_string_equal (c.cluster_node, "n1");
  moat_netconf_free (&c);
  assert_int_equal (
      parse ("{" BASE ",\"subnet\":\"10.90.1.0/24\",\"cluster\":{\"name\":\"c1\"}}", &c, &err), 0);
  assert_null (c.cluster_node);
  assert_null (c.cluster_store);
  /* Room for VXLAN's headers unless "mtu" is given. */
  assert_int_equal (c.mtu, MOAT_CLUSTER_MTU);
  moat_netconf_free (&c);
  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.90.1.0/24\",\"mtu\":8950,"
                           "\"cluster\":{\"name\":\"c1\"}}",
                           &c, &err),
                    0);
  assert_int_equal (c.mtu, 8950);
  moat_netconf_free (&c);
  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.90.1.0/24\"}", &c, &err), 0);
  assert_null (c.cluster_name);
  assert_int_equal (c.mtu, 0);
  moat_netconf_free (&c);
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cluster\":\"c1\"}", MOAT_E_CONFIG,
                  "cluster: must be an object");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cluster\":{}}", MOAT_E_CONFIG,
                  "cluster.name: required");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cluster\":{\"name\":\"a/b\"}}",
                  MOAT_E_CONFIG, "cluster.name: \"a/b\" must be alphanumeric");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cluster\":{\"name\":\"c1\",\"node\":7}}",
                  MOAT_E_CONFIG, "cluster.node: must be a string");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cluster\":{\"name\":\"c1\","
                  "\"node\":\"-n\"}}",
                  MOAT_E_CONFIG, "cluster.node");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cluster\":{\"name\":\"c1\","
                  "\"store\":\"etcd:2379\"}}",
                  MOAT_E_CONFIG, "cluster.store: \"etcd:2379\" must be an http");
  assert_refused ("{" BASE ",\"ipam\":{\"type\":\"host-local\"},\"cluster\":{\"name\":\"c1\"}}",
                  MOAT_E_CONFIG, "cluster: needs \"subnet\"");
  /* IPv6-only: its IPv4 keys are this node's alone (refused, for now). */
  assert_refused ("{" BASE ",\"subnet6\":\"fd00:90:1::/64\",\"cluster\":{\"name\":\"c1\"}}",
                  MOAT_E_CONFIG, "an IPv6-only network cannot join a cluster yet");
  /* Dual stack: its subnet6 is this node's too. */
  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.90.1.0/24\",\"subnet6\":\"fd00:90:1::/64\","
                           "\"cluster\":{\"name\":\"c1\"}}",
                           &c, &err),
                    0);
  assert_true (c.have_subnet6);
  moat_netconf_free (&c);
}

/* "cluster.encrypt": "wireguard" or absent; the MTU drops by WireGuard's
 * 60 bytes unless "mtu" is given. */
static void
test_cluster_encrypt (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };

  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.90.1.0/24\",\"cluster\":{\"name\":\"c1\","
                           "\"encrypt\":\"wireguard\"}}",
                           &c, &err),
                    0);
  assert_true (c.cluster_wireguard);
  assert_int_equal (c.mtu, 1440);
  moat_netconf_free (&c);
  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.90.1.0/24\",\"mtu\":1380,\"cluster\":{"
                           "\"name\":\"c1\",\"encrypt\":\"wireguard\"}}",
                           &c, &err),
                    0);
  assert_int_equal (c.mtu, 1380);
  moat_netconf_free (&c);
  assert_int_equal (
      parse ("{" BASE ",\"subnet\":\"10.90.1.0/24\",\"cluster\":{\"name\":\"c1\"}}", &c, &err), 0);
  assert_false (c.cluster_wireguard);
  moat_netconf_free (&c);
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cluster\":{\"name\":\"c1\","
                  "\"encrypt\":\"ipsec\"}}",
                  MOAT_E_CONFIG, "cluster.encrypt: \"ipsec\" is not known");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cluster\":{\"name\":\"c1\","
                  "\"encrypt\":true}}",
                  MOAT_E_CONFIG, "cluster.encrypt: must be a string");
}

/* DEL must succeed whatever the runtime asked of the attachment at ADD. */
static void
test_del_ignores_runtime_config (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };

  assert_int_equal (moat_netconf_parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":"
                                        "{\"portMappings\":[{\"hostPort\":1}],\"mac\":\"zz\"}}",
                                        MOAT_CMD_DEL, &c, &err),
                    0);
  moat_netconf_free (&c);
}

/* "allow", the ceiling: checked at ADD, kept for the record; a DEL does
 * not fail on it but still knows whether the network reads MOAT_*. */
static void
test_allow (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };
  const char *with = "{" BASE ",\"subnet\":\"10.1.0.0/24\",\"allow\":{\"internet\":true,"
                     "\"allowHost\":[\"tcp/8000-8010\"],\"env\":true}}";

  assert_int_equal (parse (with, &c, &err), 0);
  assert_non_null (c.allow);
  assert_true (json_is_true (json_object_get (c.allow, "internet")));
  assert_true (c.reads_env);
  moat_netconf_free (&c);

  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\"}", &c, &err), 0);
  assert_null (c.allow);
  assert_false (c.reads_env);
  moat_netconf_free (&c);

  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"allow\":true}", MOAT_E_CONFIG,
                  "allow: must be an object");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"allow\":{\"egress\":[\"10.0.0.0/33\"]}}",
                  MOAT_E_CONFIG, "allow.egress[0]:");
  assert_int_equal (moat_netconf_parse ("{" BASE
                                        ",\"subnet\":\"10.1.0.0/24\",\"allow\":{\"env\":true,"
                                        "\"egress\":7}}",
                                        MOAT_CMD_DEL, &c, &err),
                    0);
  assert_true (c.reads_env);
  moat_netconf_free (&c);
}

/* "@sys:" labels are moat's: args.cni.labels cannot forge one. */
static void
test_args_labels_refuse_at (void **state)
{
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"args\":{\"cni\":{\"labels\":"
                  "[{\"key\":\"app\",\"value\":\"x\"},{\"key\":\"@sys:namespace\","
                  "\"value\":\"kube-system\"}]}}}",
                  MOAT_E_CONFIG,
                  "args.cni.labels[1]: key \"@sys:namespace\": '@' is reserved for system labels");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"args\":{\"cni\":{\"labels\":"
                  "[{\"key\":\"a@b\",\"value\":\"x\"}]}}}",
                  MOAT_E_CONFIG, "args.cni.labels[0]: key \"a@b\"");
}

static void
test_gc_attachments (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };
  const char *text = "{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cni.dev/valid-attachments\":["
                     "{\"containerID\":\"a\",\"ifname\":\"eth0\"},"
                     "{\"containerID\":\"b\",\"ifname\":\"eth1\"}]}";
  const char *old = "{" BASE ",\"subnet\":\"10.1.0.0/24\",\"cni.dev/attachments\":["
                    "{\"containerID\":\"c\",\"ifname\":\"eth0\"}]}";

  assert_int_equal (moat_netconf_parse (text, MOAT_CMD_GC, &c, &err), 0);
  assert_true (c.have_valid);
  assert_int_equal (c.n_valid, 2);
  assert_string_equal (c.valid[1].container_id, "b");
  assert_string_equal (c.valid[1].ifname, "eth1");
  moat_netconf_free (&c);

  assert_int_equal (moat_netconf_parse (old, MOAT_CMD_GC, &c, &err), 0);
  assert_int_equal (c.n_valid, 1);
  assert_string_equal (c.valid[0].container_id, "c");
  moat_netconf_free (&c);

  assert_int_equal (moat_netconf_parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\","
                                        "\"cni.dev/valid-attachments\":[{\"containerID\":1}]}",
                                        MOAT_CMD_GC, &c, &err),
                    -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  moat_netconf_free (&c);
}

static void
set_env (const char *cmd, const char *id, const char *netns, const char *ifname, const char *path)
{
  const char *names[] = { "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH" };
  const char *values[] = { cmd, id, netns, ifname, path };

  for (size_t i = 0; i < 5; i++)
    if (values[i])
      setenv (names[i], values[i], 1);
    else
      unsetenv (names[i]);
}

static void
assert_env_refused (const char *needle)
{
  struct moat_cni_env env;
  moat_err_t err = { 0 };

  assert_int_equal (moat_cni_env_read (&env, &err), -1);
  assert_int_equal (err.code, MOAT_E_ENV);
  if (!strstr (err.msg, needle))
    fail_msg ("got \"%s\", want \"%s\"", err.msg, needle);
}

static void
test_env (void **state)
{
  struct moat_cni_env env;
  moat_err_t err = { 0 };

  set_env ("ADD", "c1", "/run/netns/x", "eth0", "/opt/cni/bin");
  assert_int_equal (moat_cni_env_read (&env, &err), 0);
  assert_int_equal (env.command, MOAT_CMD_ADD);
  assert_string_equal (env.ifname, "eth0");

  set_env ("DEL", "c1", NULL, "eth0", "/opt/cni/bin");
  assert_int_equal (moat_cni_env_read (&env, &err), 0);
  assert_null (env.netns);

  set_env ("VERSION", NULL, NULL, NULL, NULL);
  assert_int_equal (moat_cni_env_read (&env, &err), 0);

  set_env (NULL, NULL, NULL, NULL, NULL);
  assert_env_refused ("CNI_COMMAND: required");
  set_env ("FROB", "c1", "/n", "eth0", "/p");
  assert_env_refused ("CNI_COMMAND: \"FROB\"");
  set_env ("ADD", NULL, "/n", "eth0", "/p");
  assert_env_refused ("CNI_CONTAINERID: required");
  set_env ("ADD", "-bad", "/n", "eth0", "/p");
  assert_env_refused ("CNI_CONTAINERID");
  set_env ("ADD", "c1", "/n", NULL, "/p");
  assert_env_refused ("CNI_IFNAME: required");
  set_env ("ADD", "c1", "/n", "a/b", "/p");
  assert_env_refused ("CNI_IFNAME");
  set_env ("ADD", "c1", "/n", "waytoolonginterfacename", "/p");
  assert_env_refused ("CNI_IFNAME");
  set_env ("ADD", "c1", NULL, "eth0", "/p");
  assert_env_refused ("CNI_NETNS: required");
  set_env ("CHECK", "c1", NULL, "eth0", "/p");
  assert_env_refused ("CNI_NETNS: required");
  set_env ("DEL", "c1", "/n", "eth0", NULL);
  assert_int_equal (moat_cni_env_read (&env, &err), 0); /* CNI_PATH: only for delegation */
  set_env (NULL, NULL, NULL, NULL, NULL);
}

static void
test_versions (void **state)
{
  assert_int_equal (moat_cni_version_index ("0.3.0"), 0);
  assert_int_equal (moat_cni_version_index ("1.1.0"), 4);
  assert_int_equal (moat_cni_version_index ("0.2.0"), -1);
  assert_int_equal (moat_cni_version_index (NULL), -1);
  assert_true (moat_cni_version_cmp ("0.3.1", "0.4.0") < 0);
  assert_true (moat_cni_version_cmp ("1.1.0", "1.0.0") > 0);
  assert_int_equal (moat_cni_version_cmp ("1.0.0", "1.0.0"), 0);
}

static void
test_cidr_and_names (void **state)
{
  struct in_addr a;
  int len;

  assert_int_equal (moat_parse_cidr ("192.168.1.0/24", &a, &len), 0);
  assert_int_equal (len, 24);
  assert_int_equal (moat_parse_cidr ("192.168.1.0/", &a, &len), -1);
  assert_int_equal (moat_parse_cidr ("192.168.1.0/-1", &a, &len), -1);
  assert_int_equal (moat_parse_cidr ("192.168.1.0/024", &a, &len), -1);
  assert_int_equal (moat_parse_cidr ("/24", &a, &len), -1);
  assert_int_equal (moat_parse_cidr ("1.2.3.4/8/8", &a, &len), -1);
  assert_true (moat_ifname_valid ("eth0"));
  assert_true (moat_ifname_valid ("abcdefghijklmno"));
  assert_false (moat_ifname_valid ("abcdefghijklmnop"));
  assert_false (moat_ifname_valid (""));
  assert_false (moat_ifname_valid (".."));
  assert_false (moat_ifname_valid ("a:b"));
  assert_true (moat_container_id_valid ("a1_b.c-d"));
  assert_false (moat_container_id_valid ("_a"));
  assert_false (moat_container_id_valid ("a@b"));
  assert_int_equal (ntohl (moat_prefix_mask (24)), 0xffffff00u);
  assert_int_equal (moat_prefix_mask (0), 0);
}

static void
test_names_and_aliases (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };

  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\"}", &c, &err), 0);
  assert_false (c.dns);
  assert_null (c.aliases);
  moat_netconf_free (&c);
  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"names\":true,"
                           "\"runtimeConfig\":{\"aliases\":{\"net1\":[\"db\",\"data_1\"],"
                           "\"other\":[\"x.y\"]}}}",
                           &c, &err),
                    0);
  assert_true (c.dns);
  assert_int_equal (json_array_size (c.aliases), 2);
  assert_string_equal (json_string_value (json_array_get (c.aliases, 1)), "data_1");
  moat_netconf_free (&c);
  /* Another network's list, an empty one, null: none for this one. */
  assert_int_equal (parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\","
                           "\"runtimeConfig\":{\"aliases\":{\"net1\":[]}}}",
                           &c, &err),
                    0);
  assert_null (c.aliases);
  moat_netconf_free (&c);

  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"names\":1}", MOAT_E_CONFIG, "names");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"aliases\":[]}}",
                  MOAT_E_CONFIG, "runtimeConfig.aliases: must be an object");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"aliases\":"
                  "{\"net1\":\"db\"}}}",
                  MOAT_E_CONFIG, "runtimeConfig.aliases: must be a list");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"aliases\":"
                  "{\"net1\":[7]}}}",
                  MOAT_E_CONFIG, "runtimeConfig.aliases[0]: must be a string");
  assert_refused ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":{\"aliases\":"
                  "{\"net1\":[\"db\",\"bad.alias\"]}}}",
                  MOAT_E_CONFIG, "runtimeConfig.aliases: \"bad.alias\" is not a DNS label");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_minimal_defaults),
    cmocka_unit_test (test_all_keys),
    cmocka_unit_test (test_delegated_ipam_needs_no_subnet),
    cmocka_unit_test (test_bad_input),
    cmocka_unit_test (test_cluster),
    cmocka_unit_test (test_cluster_encrypt),
    cmocka_unit_test (test_port_mappings),
    cmocka_unit_test (test_del_ignores_runtime_config),
    cmocka_unit_test (test_gc_attachments),
    cmocka_unit_test (test_allow),
    cmocka_unit_test (test_args_labels_refuse_at),
    cmocka_unit_test (test_env),
    cmocka_unit_test (test_versions),
    cmocka_unit_test (test_cidr_and_names),
    cmocka_unit_test (test_names_and_aliases),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
