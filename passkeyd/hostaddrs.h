/*
 * Whether a client address (PAM_RHOST) is this host: a loopback address or
 * name, the host's configured name (addrkey.h), or one of its interfaces'
 * own addresses.  The last matters because every local account can reach
 * the host at its LAN address as well as at 127.0.0.1: `ssh alice@<its
 * address>` from mallory's shell comes from there, so that address names
 * no client (re-approval windows, flow.c) and the page should say the
 * request is local.
 *
 * The interfaces are read with getifaddrs(3) when asked, at most once a
 * second (an address added or moved counts within a second), so only a
 * begin that needs the answer pays for it.
 */
#ifndef PASSKEYD_HOSTADDRS_H
#define PASSKEYD_HOSTADDRS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct hostaddrs;

/* NULL when out of memory.  Reads nothing yet. */
struct hostaddrs *hostaddrs_new(void);
void hostaddrs_free(struct hostaddrs *h);

/*
 * 1 when rhost is this host (above), 0 when it is not.  When the
 * interfaces cannot be read, an address literal counts as this host: the
 * callers' answer for "local" is the cautious one (no window, a warning on
 * the page).  now_ms is a monotonic time (clock.h).
 */
int hostaddrs_is_this_host(struct hostaddrs *h, const char *rhost, const char *hostname,
    int64_t now_ms);

/*
 * The pure part: 1 when rhost is an address literal equal to one of the n
 * addresses (IPv4 kept as IPv4-mapped IPv6; an IPv6 zone, "fe80::1%eth0",
 * is ignored), 0 otherwise (a name, or no match); -1 when rhost is no
 * address literal.
 */
int hostaddrs_text_in(const char *rhost, const struct in6_addr *addrs, size_t n);

#endif
