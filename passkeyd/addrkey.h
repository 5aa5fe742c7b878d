/*
 * The unit a client address is counted in.  An IPv4 address is one
 * client; an IPv6 client is given a whole /64 by its network (SLAAC,
 * privacy addresses), so its /64 is one client: counting each /128 would
 * let it hold 2^64 times any per-address limit.  IPv4-mapped IPv6
 * addresses count as their IPv4 address.  Anything else (a host name,
 * when sshd runs with UseDNS) counts as itself.
 */
#ifndef PASSKEYD_ADDRKEY_H
#define PASSKEYD_ADDRKEY_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

/* "192.0.2.7", "2001:db8:1:2::/64", or the text itself (cut to fit). */
#define ADDR_KEY_MAX	256

/* The key of a textual address (PAM_RHOST); "" stays "" (no address). */
void addr_key_from_text(const char *text, char out[ADDR_KEY_MAX]);
/* The key of a socket address (an HTTP client). */
void addr_key_from_sockaddr(const struct sockaddr *sa, char out[ADDR_KEY_MAX]);

/*
 * 1 when a client address (PAM_RHOST) is the host itself: a loopback
 * address literal (127.0.0.0/8, ::1, v4-mapped), a loopback name of
 * /etc/hosts (localhost, localhost6, ip6-localhost, ip6-loopback), or
 * hostname (the host's name as configured), whole or as the short name of
 * a full one, in any case.  Whole names only: with sshd's UseDNS a remote
 * client chooses its own name in its own zone ("127.0.0.1.attacker.example",
 * "srv.attacker.example").  sudo's `Defaults pam_rhost` sends the host's
 * name, and sshd's UseDNS names Debian's 127.0.1.1 so.
 */
int addr_is_this_host(const char *rhost, const char *hostname);

/*
 * 1 when text is an address literal, into *out as IPv6 (IPv4 as
 * IPv4-mapped); an IPv6 zone ("fe80::1%eth0", as sshd writes a link-local
 * client) is left out.  0 for anything else, a name included.
 */
int addr_literal_v6(const char *text, struct in6_addr *out);
/* v4 as the IPv4-mapped IPv6 address (::ffff:a.b.c.d) the two above compare. */
void addr_v4_mapped(const struct in_addr *v4, struct in6_addr *out);

#endif
