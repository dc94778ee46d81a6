/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_RUN_H
#define MOAT_RUN_H

/* `moatctl run --network NAME [--label K=V]... [--annotation io.moat.KEY=V]...
 * [--name N] [--user USER[:GROUP]] -- CMD [ARG...]` (moatctl(8), run): a
 * plain process under moat's policy, as a container would be.
 *
 * CMD runs in a network namespace of its own. Before it starts, moat-hook
 * attaches that namespace to the network exactly as it attaches a container
 * that names io.moat.network (hook-driven attach: the plugin's ADD, the same
 * record, the policy of the labels and annotations given); when CMD ends,
 * moat-hook's poststop detaches it. Standard input, output and error are
 * CMD's; its exit status is moatctl's (128+N when killed by signal N);
 * SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1 and SIGUSR2 sent to moatctl are
 * passed to CMD (those a terminal sends to the whole foreground group reach
 * CMD themselves, and are not sent twice). If moatctl itself is killed,
 * CMD's namespace goes with CMD's last process, and the attachment is what
 * `moatctl check` reports and `moatctl gc` removes.
 *
 * The hook is MOAT_HOOK, else moat-hook next to moatctl (a build tree),
 * else ../libexec/moat/moat-hook from moatctl's directory (an install),
 * else the path compiled in. Runs before moatctl confines itself (it
 * forks and executes). */

/* `args`: what follows "run" on the command line. Returns the exit status
 * moatctl ends with: CMD's, or 125 when moat could not run it (the reason
 * on standard error, nothing left attached). */
int moat_ctl_run (int argc, char **argv);

#endif
