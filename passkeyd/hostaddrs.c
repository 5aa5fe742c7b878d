#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addrkey.h"
#include "hostaddrs.h"

/* re-read the interfaces no more often than this */
#define HOSTADDRS_TTL_MS	1000
/*
 * Room for a container or Kubernetes node (an address per veth, every
 * ClusterIP on kube-ipvs0) with 1 MiB at most; past it the addresses are
 * unknown rather than partly known.
 */
#define HOSTADDRS_MAX		65536

struct hostaddrs {
	struct in6_addr *addrs;
	size_t n, cap;
	int ok;			/* the last read gave every address */
	int64_t read_ms;	/* when; 0 for never */
	char trouble[96];	/* why the last read failed, "" when none */
	int told;		/* hostaddrs_trouble said it */
	uint64_t failed_reads;	/* for the metrics: the log says the first only */
};

struct hostaddrs *
hostaddrs_new(void)
{
	return calloc(1, sizeof(struct hostaddrs));
}

void
hostaddrs_free(struct hostaddrs *h)
{
	if (h != NULL)
		free(h->addrs);
	free(h);
}

static int
in_list(const struct in6_addr *a, const struct in6_addr *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&addrs[i], a, sizeof(*a)) == 0)
			return 1;
	return 0;
}

int
hostaddrs_text_in(const char *rhost, const struct in6_addr *addrs, size_t n)
{
	struct in6_addr a;

	if (rhost == NULL || !addr_literal_v6(rhost, &a))
		return -1;
	return in_list(&a, addrs, n);
}

/* One interface address into h; 0 when it cannot be kept. */
static int
keep(struct hostaddrs *h, const struct sockaddr *sa)
{
	struct in6_addr *a;
	size_t cap;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return 1;
	if (h->n == h->cap) {
		cap = h->cap == 0 ? 16 : h->cap * 2;
		if (cap > HOSTADDRS_MAX || (a = realloc(h->addrs, cap * sizeof(*a))) == NULL)
			return 0;
		h->addrs = a;
		h->cap = cap;
	}
	a = &h->addrs[h->n++];
	if (sa->sa_family == AF_INET6)
		*a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		addr_v4_mapped(&((const struct sockaddr_in *)sa)->sin_addr, a);
	return 1;
}

static void
failed(struct hostaddrs *h, const char *why)
{
	h->ok = 0;
	h->failed_reads++;
	if (h->trouble[0] == '\0')
		h->told = 0;
	snprintf(h->trouble, sizeof(h->trouble), "%s", why);
}

static void
refresh(struct hostaddrs *h, int64_t now_ms)
{
	struct ifaddrs *list, *i;
	char why[80];

	if (h->read_ms != 0 && now_ms >= h->read_ms && now_ms - h->read_ms < HOSTADDRS_TTL_MS)
		return;
	h->read_ms = now_ms != 0 ? now_ms : 1;
	h->n = 0;
	if (getifaddrs(&list) != 0) {
		snprintf(why, sizeof(why), "getifaddrs: %s", strerror(errno));
		failed(h, why);
		return;
	}
	h->ok = 1;
	for (i = list; i != NULL && h->ok; i = i->ifa_next)
		if (i->ifa_addr != NULL && !keep(h, i->ifa_addr))
			failed(h, "more interface addresses than passkeyd keeps, or no memory");
	freeifaddrs(list);
	if (h->ok)
		h->trouble[0] = '\0';
}

enum host_self
hostaddrs_is_this_host(struct hostaddrs *h, const char *rhost, const char *hostname,
    int64_t now_ms)
{
	struct in6_addr a;

	if (addr_is_this_host(rhost, hostname))
		return HOST_SELF_YES;
	if (h == NULL || rhost == NULL || !addr_literal_v6(rhost, &a))
		return HOST_SELF_NO;	/* none, or a name: only the configured one is known */
	refresh(h, now_ms);
	if (!h->ok)
		return HOST_SELF_UNKNOWN;
	return in_list(&a, h->addrs, h->n) ? HOST_SELF_YES : HOST_SELF_NO;
}

uint64_t
hostaddrs_failed_reads(const struct hostaddrs *h)
{
	return h != NULL ? h->failed_reads : 0;
}

const char *
hostaddrs_trouble(struct hostaddrs *h)
{
	if (h == NULL || h->trouble[0] == '\0' || h->told)
		return NULL;
	h->told = 1;
	return h->trouble;
}
