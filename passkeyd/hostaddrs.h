/*
 * Whether a client address (PAM_RHOST) is this host: a loopback address or
 * name, the host's configured name (addrkey.h), or one of its interfaces'
 * own addresses.  The last matters because every local account can reach
 * the host at its LAN address as well as at 127.0.0.1: `ssh alice@<its
 * address>` from mallory's shell comes from there, so that address names
 * no client (re-approval windows, flow.c) and the page should say the
 * request is local.
 *
 * The interfaces are read with getifaddrs(3) (a netlink socket: the
 * systemd unit allows AF_NETLINK for it) when asked, at most once a
 * second (an address added or moved counts within a second), so only a
 * begin pays for it.
 */
#ifndef PASSKEYD_HOSTADDRS_H
#define PASSKEYD_HOSTADDRS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct hostaddrs;

/* What hostaddrs_is_this_host can say. */
enum host_self {
	HOST_SELF_NO = 0,
	HOST_SELF_YES = 1,
	/*
	 * An address literal, and the interfaces could not be read: each
	 * caller takes its cautious side (no window; no "local" claim on the
	 * page, which would teach people to ignore it).
	 */
	HOST_SELF_UNKNOWN = -1,
};

/* NULL when out of memory.  Reads nothing yet. */
struct hostaddrs *hostaddrs_new(void);
void hostaddrs_free(struct hostaddrs *h);

/*
 * Whether rhost is this host (above); a name is only the configured one
 * (no DNS on the login path).  h NULL: the interfaces are not looked at
 * (the fuzzers).  now_ms is a monotonic time (clock.h).
 */
enum host_self hostaddrs_is_this_host(struct hostaddrs *h, const char *rhost,
    const char *hostname, int64_t now_ms);

/*
 * Why the interfaces could not be read, once: the first call after a read
 * failed gives the reason, later ones NULL until a read has succeeded and
 * another failed.  For the daemon's log.
 */
const char *hostaddrs_trouble(struct hostaddrs *h);
/*
 * How many reads of the interfaces have failed since the start: the log
 * tells the first of a run only, and a scrape should see the rest.
 */
uint64_t hostaddrs_failed_reads(const struct hostaddrs *h);

/*
 * The pure part: 1 when rhost is an address literal equal to one of the n
 * addresses (IPv4 kept as IPv4-mapped IPv6; an IPv6 zone, "fe80::1%eth0",
 * is ignored), 0 otherwise; -1 when rhost is no address literal.
 */
int hostaddrs_text_in(const char *rhost, const struct in6_addr *addrs, size_t n);

#endif
