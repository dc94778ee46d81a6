/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_ERROR_H
#define MOAT_ERROR_H

/* CNI well-known error codes (CNI spec, "Error") and moat's own (>= 100). */
enum moat_code
{
  MOAT_OK = 0,
  MOAT_E_VERSION = 1,     /* incompatible CNI version */
  MOAT_E_UNSUPPORTED = 2, /* unsupported field in network configuration */
  MOAT_E_UNKNOWN = 3,     /* container unknown or does not exist */
  MOAT_E_ENV = 4,         /* invalid necessary environment variables */
  MOAT_E_IO = 5,          /* I/O failure */
  MOAT_E_DECODE = 6,      /* failed to decode content */
  MOAT_E_CONFIG = 7,      /* invalid network config */
  MOAT_E_TRY_AGAIN = 11,  /* try again later */
  MOAT_E_NOT_READY = 50,  /* STATUS: plugin cannot serve ADDs */
  MOAT_E_LINK = 100,      /* netlink: links, addresses, routes */
  MOAT_E_NFT = 101,       /* nftables batch refused */
  MOAT_E_IPAM = 102,      /* address allocation */
  MOAT_E_STATE = 103,     /* state records under /run/moat */
  MOAT_E_DRIFT = 104,     /* CHECK: kernel differs from the record */
};

/* One error travels up to the single place that reports it. Callers that
 * add context prefix the message (moat_error_prefix), keeping the code. A
 * message is always one line: control characters become '?'. */
typedef struct moat_err
{
  int code;
  char msg[1024];
  int errnum; /* the errno moat_error was given (0: none), for a caller that must tell causes apart
               */
} moat_err_t;

/* Sets *err and returns -1. When errnum != 0, ": strerror(errnum)" is
 * appended. */
int moat_error (moat_err_t *err, int code, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/* Prepends "<context>: " to the message; returns -1. */
/* Out of memory while making `what`: MOAT_E_IO, ENOMEM. Returns -1. */
int moat_error_nomem (moat_err_t *err, const char *what);

int moat_error_prefix (moat_err_t *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Undo errors, one way everywhere (docs/design.md, "Conventions"): when
 * undoing what failed with *err fails too, *err stays the error reported,
 * with its code, and the undo's message is added to it: "<err> (and
 * undoing <what> failed: <undo>)". Returns -1. */
int moat_error_undo_failed (moat_err_t *err, const char *what, const moat_err_t *undo);

#endif
