#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addrkey.h"
#include "hostaddrs.h"

/* re-read the interfaces no more often than this */
#define HOSTADDRS_TTL_MS	1000
/* more than any host has; past it the rest are not kept, and count as unread */
#define HOSTADDRS_MAX		256

struct hostaddrs {
	struct in6_addr addrs[HOSTADDRS_MAX];
	size_t n;
	int ok;			/* the last read gave every address */
	int64_t read_ms;	/* when; 0 for never */
};

struct hostaddrs *
hostaddrs_new(void)
{
	return calloc(1, sizeof(struct hostaddrs));
}

void
hostaddrs_free(struct hostaddrs *h)
{
	free(h);
}

/* rhost as an IPv6 address (IPv4 mapped), its zone left out; 0 for no literal. */
static int
literal_v6(const char *rhost, struct in6_addr *out)
{
	char text[INET6_ADDRSTRLEN + 1];
	size_t len = strcspn(rhost, "%");
	struct in_addr v4;

	if (len >= sizeof(text))
		return 0;
	memcpy(text, rhost, len);
	text[len] = '\0';
	if (inet_pton(AF_INET6, text, out) == 1)
		return 1;
	/* "192.0.2.7%x" is no address: only IPv6 has zones */
	if (rhost[len] != '\0' || inet_pton(AF_INET, text, &v4) != 1)
		return 0;
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], &v4, sizeof(v4));
	return 1;
}

int
hostaddrs_text_in(const char *rhost, const struct in6_addr *addrs, size_t n)
{
	struct in6_addr a;

	if (rhost == NULL || !literal_v6(rhost, &a))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (memcmp(&addrs[i], &a, sizeof(a)) == 0)
			return 1;
	return 0;
}

/* One interface address into h; 0 when it is full. */
static int
keep(struct hostaddrs *h, const struct sockaddr *sa)
{
	struct in6_addr *a = &h->addrs[h->n];

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return 1;
	if (h->n == HOSTADDRS_MAX)
		return 0;
	if (sa->sa_family == AF_INET6) {
		*a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
	} else {
		memset(a, 0, sizeof(*a));
		a->s6_addr[10] = a->s6_addr[11] = 0xff;
		memcpy(&a->s6_addr[12], &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
	h->n++;
	return 1;
}

static void
refresh(struct hostaddrs *h, int64_t now_ms)
{
	struct ifaddrs *list, *i;

	if (h->read_ms != 0 && now_ms - h->read_ms < HOSTADDRS_TTL_MS && now_ms >= h->read_ms)
		return;
	h->read_ms = now_ms != 0 ? now_ms : 1;
	h->n = 0;
	h->ok = 0;
	if (getifaddrs(&list) != 0)
		return;
	h->ok = 1;
	for (i = list; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL && !keep(h, i->ifa_addr))
			h->ok = 0;
	freeifaddrs(list);
}

int
hostaddrs_is_this_host(struct hostaddrs *h, const char *rhost, const char *hostname,
    int64_t now_ms)
{
	int in;

	if (addr_is_this_host(rhost, hostname))
		return 1;
	if (h == NULL || rhost == NULL || rhost[0] == '\0')
		return 0;
	refresh(h, now_ms);
	in = hostaddrs_text_in(rhost, h->addrs, h->n);
	if (in < 0)
		return 0;	/* a name: only the configured one is known */
	return in == 1 || !h->ok;
}
