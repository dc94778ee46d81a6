/* SPDX-License-Identifier: Apache-2.0 */
/* ls and show as text: moat_ctl_list's JSON printed for a terminal
 * (listing.h). */
#include "listing.h"

#include <stdio.h>

#include "grant.h"

static void
print_grants (json_t *grants)
{
  size_t i;
  json_t *g;

  json_array_foreach (grants, i, g)
  {
    json_t *in = json_object_get (g, "expiresIn");
    const char *by = json_string_value (json_object_get (g, "by"));
    char left[64];

    printf ("%s%s", i ? ", " : "", json_string_value (json_object_get (g, "label")));
    moat_grant_time_left (json_integer_value (in), left, sizeof (left));
    if (in)
      printf (" (%s)", left);
    if (by)
      printf (" [%s]", by);
  }
}

/* Published ports, "host:port:port/proto" items; "-" for none when `dash`. */
static void
print_publish (json_t *publish, const char *before, bool dash)
{
  size_t i;
  json_t *p;

  if (json_array_size (publish) == 0)
    {
      printf ("%s", dash ? "-" : "");
      return;
    }
  printf ("%s", before);
  json_array_foreach (publish, i, p) printf ("%s%s", i ? ", " : "", json_string_value (p));
}

/* show's policy: each key's items with their sources (showpolicy.h). */
static void
print_policy_items (json_t *p)
{
  static const struct
  {
    const char *key, *label;
  } keys[] = {
    { "labels", "labels" },
    { "depends", "depends" },
    { "expose", "expose" },
    { "dependsDeny", "depends (deny)" },
    { "exposeDeny", "expose (deny)" },
    { "allowHost", "allow-host" },
    { "egress", "egress" },
    { "ingress", "ingress" },
    { "egressDeny", "egress (deny)" },
    { "ingressDeny", "ingress (deny)" },
    { "internet", "internet" },
    { "proxy", "proxy" },
    { "publish", "published" },
  };
  json_t *items = json_object_get (p, "items");

  printf ("policy:    %s\n", json_string_value (json_object_get (p, "state")));
  for (size_t k = 0; k < sizeof (keys) / sizeof (keys[0]); k++)
    {
      json_t *list = json_object_get (items, keys[k].key), *it;
      size_t i;

      if (!json_array_size (list))
        continue;
      printf ("  %-15s ", keys[k].label);
      json_array_foreach (list, i, it)
          printf ("%s%s [%s]", i ? ", " : "", json_string_value (json_object_get (it, "item")),
                  json_string_value (json_object_get (it, "from")));
      printf ("\n");
    }
}

const char *
ctl_container_address (json_t *c)
{
  const char *a = json_string_value (json_object_get (c, "address"));
  const char *a6 = json_string_value (json_object_get (c, "address6"));

  return a ? a : a6 ? a6 : "-";
}

static void
print_labels (json_t *labels)
{
  const char *key;
  json_t *v;
  bool first = true;

  json_object_foreach (labels, key, v)
  {
    printf ("%s%s=%s", first ? "" : ",", key, json_string_value (v));
    first = false;
  }
  if (first)
    printf ("-");
}

void
ctl_print_containers (json_t *list, bool one)
{
  json_t *c;
  size_t i;

  if (!one)
    printf ("%-12s  %-16s  %-12s  %-15s  %-24s  %s\n", "CONTAINER", "NAME", "NETWORK", "ADDRESS",
            "LABELS", "GRANTS");
  json_array_foreach (json_object_get (list, "containers"), i, c)
  {
    const char *name = json_string_value (json_object_get (c, "name"));

    if (one)
      {
        json_t *profile = json_object_get (c, "profile");
        const char *addr6 = json_string_value (json_object_get (c, "address6"));

        const char *addr = json_string_value (json_object_get (c, "address"));
        const char *node = json_string_value (json_object_get (c, "node"));

        printf ("container: %s\nname:      %s\n", json_string_value (json_object_get (c, "id")),
                name ? name : "-");
        /* Another node's container has no port here (cluster mode). */
        if (node)
          printf ("network:   %s (on node %s)\naddress:   %s\nlabels:    ",
                  json_string_value (json_object_get (c, "network")), node, addr ? addr : "");
        else
          printf ("network:   %s (%s, host end %s)\naddress:   %s%s%s\nmac:       %s\nlabels:    ",
                  json_string_value (json_object_get (c, "network")),
                  json_string_value (json_object_get (c, "ifname")),
                  json_string_value (json_object_get (c, "hostIf")), addr ? addr : "",
                  addr && addr6 ? ", " : "", addr6 ? addr6 : "",
                  json_string_value (json_object_get (c, "mac")));
        print_labels (json_object_get (c, "labels"));
        printf ("\nprofile:   %s\ngrants:    ", profile ? json_string_value (profile) : "-");
        print_grants (json_object_get (c, "grants"));
        printf ("%s\npublished: ", json_array_size (json_object_get (c, "grants")) ? "" : "-");
        print_publish (json_object_get (c, "publish"), "", true);
        printf ("\nrefusals:  %s\n", json_is_true (json_object_get (c, "log"))
                                         ? "logged (moatctl watch)"
                                         : "not logged");
        if (json_object_get (c, "cgroup"))
          printf ("cgroup:    %s (%s)\n", json_string_value (json_object_get (c, "cgroup")),
                  json_string_value (json_object_get (c, "cgroupDir")));
        print_policy_items (json_object_get (c, "policyItems"));
        continue;
      }
    printf ("%-12.12s  %-16s  %-12s  %-15s  ", json_string_value (json_object_get (c, "id")),
            name ? name : "-", json_string_value (json_object_get (c, "network")),
            ctl_container_address (c));
    print_labels (json_object_get (c, "labels"));
    printf ("  ");
    print_grants (json_object_get (c, "grants"));
    print_publish (json_object_get (c, "publish"), "  published ", false);
    if (json_object_get (c, "node"))
      printf ("  node %s", json_string_value (json_object_get (c, "node")));
    printf ("\n");
  }
}

/* "packets/bytes" of one verdict and direction. */
static void
print_count (json_t *c, const char *verdict, const char *direction)
{
  json_t *d = json_object_get (json_object_get (c, verdict), direction);
  char buf[64];

  snprintf (buf, sizeof (buf), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
            json_integer_value (json_object_get (d, "packets")),
            json_integer_value (json_object_get (d, "bytes")));
  printf ("  %-21s", buf);
}

void
ctl_print_stats (json_t *stats)
{
  json_t *c;
  size_t i;

  printf ("%-16s  %-12s  %-15s  %-21s  %-21s  %-21s  %-21s\n", "NAME", "NETWORK", "ADDRESS",
          "ALLOWED IN", "ALLOWED OUT", "REFUSED IN", "REFUSED OUT");
  json_array_foreach (json_object_get (stats, "containers"), i, c)
  {
    json_t *name = json_object_get (c, "name");

    printf ("%-16.*s  %-12s  %-15s", json_is_string (name) ? 16 : 12,
            json_is_string (name) ? json_string_value (name)
                                  : json_string_value (json_object_get (c, "id")),
            json_string_value (json_object_get (c, "network")), ctl_container_address (c));
    print_count (c, "allowed", "in");
    print_count (c, "allowed", "out");
    print_count (c, "refused", "in");
    print_count (c, "refused", "out");
    printf ("\n");
  }
  printf ("(packets/bytes)\n");
}
