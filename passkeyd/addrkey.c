#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addrkey.h"
#include "ctl_text.h"

static void
key_v6(const struct in6_addr *a, char out[ADDR_KEY_MAX])
{
	struct in6_addr net;
	char text[INET6_ADDRSTRLEN];

	if (IN6_IS_ADDR_V4MAPPED(a)) {
		inet_ntop(AF_INET, &a->s6_addr[12], out, ADDR_KEY_MAX);
		return;
	}
	memset(&net, 0, sizeof(net));
	memcpy(net.s6_addr, a->s6_addr, 8);
	inet_ntop(AF_INET6, &net, text, sizeof(text));
	snprintf(out, ADDR_KEY_MAX, "%s/64", text);
}

void
addr_key_from_text(const char *text, char out[ADDR_KEY_MAX])
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, text, &v4) == 1)
		inet_ntop(AF_INET, &v4, out, ADDR_KEY_MAX);
	else if (inet_pton(AF_INET6, text, &v6) == 1)
		key_v6(&v6, out);
	else
		snprintf(out, ADDR_KEY_MAX, "%s", text);
}

void
addr_key_from_sockaddr(const struct sockaddr *sa, char out[ADDR_KEY_MAX])
{
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
		    ADDR_KEY_MAX);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		key_v6(&((const struct sockaddr_in6 *)sa)->sin6_addr, out);
	else
		snprintf(out, ADDR_KEY_MAX, "?");
}

static int
loopback_literal(const char *text)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, text, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, text, &v6) != 1)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(&v6))
		return v6.s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(&v6);
}

void
addr_v4_mapped(const struct in_addr *v4, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], v4, sizeof(*v4));
}

int
addr_literal_v6(const char *text, struct in6_addr *out)
{
	char part[INET6_ADDRSTRLEN + 1];
	size_t len = strcspn(text, "%");
	struct in_addr v4;

	if (len >= sizeof(part))
		return 0;
	memcpy(part, text, len);
	part[len] = '\0';
	if (inet_pton(AF_INET6, part, out) == 1)
		return 1;
	/* "192.0.2.7%x" is no address: only IPv6 has zones */
	if (text[len] != '\0' || inet_pton(AF_INET, part, &v4) != 1)
		return 0;
	addr_v4_mapped(&v4, out);
	return 1;
}

int
addr_is_this_host(const char *rhost, const char *hostname)
{
	static const char *const loopback_names[] = {
		"localhost", "localhost6", "ip6-localhost", "ip6-loopback"
	};
	size_t len = rhost != NULL ? strlen(rhost) : 0;

	if (len == 0)
		return 0;
	if (loopback_literal(rhost))
		return 1;
	for (size_t i = 0; i < sizeof(loopback_names) / sizeof(loopback_names[0]); i++)
		if (strcasecmp(rhost, loopback_names[i]) == 0)
			return 1;
	return ctl_names_host(rhost, hostname);
}
