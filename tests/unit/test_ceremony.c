#include <stdio.h>
/*
 * The ceremony table (passkeyd/ceremony.c): tokens, limits, expiry and the
 * memory bound on remembered final states, and the address keys and
 * counts the limits use (addrkey.c, countmap.c).  Pure code, driven by a
 * fake clock passed in as `now`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "addrkey.h"
#include "ceremony.h"
#include "countmap.h"
#include "hostaddrs.h"
#include "wallclock.h"
#include "share.h"
#include "keycache.h"
#include "offload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static const struct ceremony_limits limits = { .total = 6, .per_user = 3,
    .per_address = 3, .per_user_address = 2, .lifetime = 90 };

static enum ctl_refusal
begin(struct ceremony_table *t, const char *user, const char *rhost, time_t now,
    struct ceremony **c)
{
	return ceremony_begin(t, &(struct ceremony_spec){ .kind = CEREMONY_LOGIN,
	    .user = user, .rhost = rhost, .service = "sshd", .lifetime = 90 }, now, c);
}

static struct ceremony *
begin_ok(struct ceremony_table *t, const char *user, const char *rhost, time_t now)
{
	struct ceremony *c = NULL;

	assert_int_equal(begin(t, user, rhost, now, &c), CTL_REFUSAL_NONE);
	assert_non_null(c);
	return c;
}

static void
test_tokens_are_distinct_and_findable(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "a", "h1", 1000);
	struct ceremony *b = begin_ok(t, "b", "h2", 1000);

	assert_int_equal(strlen(a->token), CEREMONY_TOKEN_LEN);
	assert_true(ceremony_token_valid(a->token));
	assert_string_not_equal(a->token, b->token);
	assert_memory_not_equal(a->challenge, b->challenge, CEREMONY_CHALLENGE_LEN);
	assert_ptr_equal(ceremony_find(t, a->token), a);
	assert_ptr_equal(ceremony_find(t, b->token), b);
	assert_null(ceremony_find(t, "AAAAAAAAAAAAAAAAAAAAAAAA"));
	assert_null(ceremony_find(t, "short"));
	assert_false(ceremony_token_valid("AAAAAAAAAAAAAAAAAAAAAAA/"));
	assert_int_equal(strlen(a->code), 7);
	assert_int_equal(a->code[3], '-');
	ceremony_table_free(t);
}

static void
test_limits(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *c;

	/* one user from one address: two; the user in all: three */
	begin_ok(t, "u", "h1", 1000);
	begin_ok(t, "u", "h1", 1000);
	assert_int_equal(begin(t, "u", "h1", 1000, &c), CTL_REFUSAL_LIMIT_USER_ADDRESS);
	assert_null(c);
	begin_ok(t, "u", "h2", 1000);
	assert_int_equal(begin(t, "u", "h3", 1000, &c), CTL_REFUSAL_LIMIT_USER);
	/* one address for all users: three */
	begin_ok(t, "v", "h1", 1000);
	assert_int_equal(begin(t, "w", "h1", 1000, &c), CTL_REFUSAL_LIMIT_ADDRESS);
	/* an empty address (sudo, the CLI) is not one shared address */
	begin_ok(t, "x", "", 1000);
	begin_ok(t, "y", "", 1000);
	assert_int_equal(ceremony_pending_count(t), 6);
	assert_int_equal(begin(t, "z", "", 1000, &c), CTL_REFUSAL_LIMIT_TOTAL);
	ceremony_table_free(t);
}

/*
 * Finding 3 of the availability review: pending logins from other
 * addresses must not lock the real user out of a new one.  With the
 * per-pair bound, an attacker needs many addresses, not four connections.
 */
static void
test_other_addresses_do_not_lock_out(void **state)
{
	struct ceremony_limits l = { .total = 100, .per_user = 16, .per_address = 16,
	    .per_user_address = 2, .lifetime = 90 };
	struct ceremony_table *t = ceremony_table_new(l);
	char addr[32];

	for (int i = 0; i < 6; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i + 1);
		begin_ok(t, "alice", addr, 1000);
		begin_ok(t, "alice", addr, 1000);
	}
	/* twelve pending from six addresses; a seventh is still offered */
	begin_ok(t, "alice", "192.0.2.7", 1000);
	ceremony_table_free(t);
}

/*
 * An rhost that is the host itself: address literals and whole names only
 * (with sshd's UseDNS a remote client names itself, in its own zone).
 */
static void
test_addr_is_this_host(void **state)
{
	static const char *const local[] = {
		"127.0.0.1", "127.0.1.1", "127.255.255.254", "::1", "::ffff:127.0.0.1",
		"0:0:0:0:0:0:0:1", "localhost", "LOCALHOST", "localhost6", "ip6-localhost",
		"ip6-loopback", "srv", "SRV", "srv.example.com", "Srv.Example.COM",
	};
	static const char *const remote[] = {
		"", "192.0.2.7", "128.0.0.1", "126.255.255.255", "::2", "::ffff:192.0.2.7",
		"2001:db8::1", "127.0.0.1.attacker.example", "127.1", "localhost.attacker.example",
		"srv.attacker.example", "srv.example", "sr", "srvx", "example.com",
		"srv.example.com.", "ip6-localhost.", " srv",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (!addr_is_this_host(local[i], "srv.example.com"))
			fail_msg("%s should be this host", local[i]);
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (addr_is_this_host(remote[i], "srv.example.com"))
			fail_msg("%s should not be this host", remote[i]);
	/* a short configured name: only itself, never a longer name under it */
	assert_true(addr_is_this_host("srv", "srv"));
	assert_false(addr_is_this_host("srv.example.com", "srv"));
	assert_false(addr_is_this_host("srv", ""));
	assert_false(addr_is_this_host("srv", NULL));
	assert_false(addr_is_this_host(NULL, "srv"));
}

/*
 * The windows' clock: it follows the wall clock, takes a step forward at
 * once, and after a step back goes on from its latest reading at the
 * monotonic clock's pace, never answering less than before.
 */
static void
test_wallclock(void **state)
{
	struct wallclock w = { 0 };

	(void)state;
	assert_int_equal(wallclock_at(&w, 1000000500, 100), 1000000);
	assert_int_equal(wallclock_at(&w, 1000001500, 1100), 1000001);
	/* a step forward of an hour: taken */
	assert_int_equal(wallclock_at(&w, 1003601500, 2100), 1003601);
	/* a step back of a day: on from 1003601.5 s at the monotonic pace */
	assert_int_equal(wallclock_at(&w, 913602500, 3100), 1003602);
	assert_int_equal(wallclock_at(&w, 913612500, 13100), 1003612);
	/* the wall clock caught up (a day later): followed again */
	assert_int_equal(wallclock_at(&w, 1003700000, 100000), 1003700);
	assert_int_equal(wallclock_at(&w, 1003700999, 100500), 1003700);
	/* never less than before, whatever the two clocks say */
	assert_int_equal(wallclock_at(&w, 0 + 1, 100600), 1003701);
	/* the real thing, twice: not backwards */
	memset(&w, 0, sizeof(w));
	int64_t a = wallclock_now(&w), b = wallclock_now(&w);
	assert_true(a > 1700000000 && b >= a);
}

/* hostaddrs_text_in: address literals only, IPv4 as mapped, an IPv6 zone ignored. */
static void
test_hostaddrs_text_in(void **state)
{
	struct in6_addr mine[3];

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.2", &mine[0]), 1);
	assert_int_equal(inet_pton(AF_INET6, "fd00::2", &mine[1]), 1);
	assert_int_equal(inet_pton(AF_INET6, "fe80::fc:ff:fe00:1", &mine[2]), 1);
	assert_int_equal(hostaddrs_text_in("192.0.2.2", mine, 3), 1);
	assert_int_equal(hostaddrs_text_in("::ffff:192.0.2.2", mine, 3), 1);
	assert_int_equal(hostaddrs_text_in("fd00::2", mine, 3), 1);
	assert_int_equal(hostaddrs_text_in("FD00:0::2", mine, 3), 1);
	assert_int_equal(hostaddrs_text_in("fe80::fc:ff:fe00:1%eth0", mine, 3), 1);
	assert_int_equal(hostaddrs_text_in("192.0.2.3", mine, 3), 0);
	assert_int_equal(hostaddrs_text_in("fd00::3", mine, 3), 0);
	assert_int_equal(hostaddrs_text_in("192.0.2.2", mine, 0), 0);
	/* a zone on IPv4, a name, a name that starts like an address: no literal */
	assert_int_equal(hostaddrs_text_in("192.0.2.2%eth0", mine, 3), -1);
	assert_int_equal(hostaddrs_text_in("srv.example.com", mine, 3), -1);
	assert_int_equal(hostaddrs_text_in("192.0.2.2.attacker.example", mine, 3), -1);
	assert_int_equal(hostaddrs_text_in("", mine, 3), -1);
	assert_int_equal(hostaddrs_text_in(NULL, mine, 3), -1);
}

/*
 * hostaddrs_is_this_host against this machine's own interfaces, read here
 * with getifaddrs: each of its addresses is this host; TEST-NET addresses
 * that none of them holds are not, nor is a name other than the host's.
 */
static void
test_hostaddrs_this_machine(void **state)
{
	struct hostaddrs *h = hostaddrs_new();
	struct ifaddrs *list, *i;
	char text[INET6_ADDRSTRLEN];
	const void *a;
	int seen = 0;

	(void)state;
	assert_non_null(h);
	assert_int_equal(getifaddrs(&list), 0);
	for (i = list; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6))
			continue;
		a = i->ifa_addr->sa_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		assert_non_null(inet_ntop(i->ifa_addr->sa_family, a, text, sizeof(text)));
		if (hostaddrs_is_this_host(h, text, "srv.example.com", 1000) != HOST_SELF_YES)
			fail_msg("%s (%s) should be this host", text, i->ifa_name);
		if (strcmp(text, "192.0.2.254") == 0 || strcmp(text, "2001:db8::fe") == 0)
			fail_msg("this machine holds %s: the test's remote address", text);
		seen++;
	}
	freeifaddrs(list);
	assert_true(seen > 0);	/* loopback at least */
	assert_false(hostaddrs_is_this_host(h, "192.0.2.254", "srv.example.com", 1500));
	assert_false(hostaddrs_is_this_host(h, "2001:db8::fe", "srv.example.com", 1500));
	assert_false(hostaddrs_is_this_host(h, "other.example.com", "srv.example.com", 1500));
	assert_false(hostaddrs_is_this_host(h, "", "srv.example.com", 1500));
	assert_true(hostaddrs_is_this_host(h, "srv", "srv.example.com", 1500));
	/* no table: the addresses are not looked at, the names still are */
	assert_true(hostaddrs_is_this_host(NULL, "127.0.0.1", "srv.example.com", 1500));
	assert_false(hostaddrs_is_this_host(NULL, "192.0.2.254", "srv.example.com", 1500));
	assert_int_equal(hostaddrs_failed_reads(h), 0);
	hostaddrs_free(h);
}

/*
 * In this process, socket(AF_NETLINK, ...) fails with EAFNOSUPPORT, as
 * under the unit's RestrictAddressFamilies= without AF_NETLINK: a seccomp
 * filter like systemd's.
 */
static int
refuse_netlink(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAFNOSUPPORT),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : -1;
}

/* What the child below found; each bit one check that held. */
static int
unread_checks(void)
{
	struct hostaddrs *h = hostaddrs_new();
	const char *why;
	int got = 0;

	if (h == NULL || refuse_netlink() != 0)
		return 0;
	got |= hostaddrs_is_this_host(h, "192.0.2.254", "srv", 1000) == HOST_SELF_UNKNOWN;
	got |= (hostaddrs_is_this_host(h, "127.0.0.1", "srv", 1000) == HOST_SELF_YES) << 1;
	got |= (hostaddrs_is_this_host(h, "client.example.net", "srv", 1000) == HOST_SELF_NO) << 2;
	why = hostaddrs_trouble(h);
	got |= (why != NULL && strstr(why, "getifaddrs") != NULL) << 3;
	got |= (hostaddrs_trouble(h) == NULL) << 4;	/* said once */
	/* a second read a second later fails the same way: not said again */
	got |= (hostaddrs_is_this_host(h, "192.0.2.254", "srv", 2500) == HOST_SELF_UNKNOWN) << 5;
	got |= (hostaddrs_trouble(h) == NULL) << 6;
	/* ... but counted, both reads (names and loopback read nothing) */
	got |= (hostaddrs_failed_reads(h) == 2) << 7;
	hostaddrs_free(h);
	return got;
}

/*
 * The interfaces cannot be read (the unit's sandbox without AF_NETLINK):
 * an address literal is HOST_SELF_UNKNOWN, not "this host" and not
 * "remote"; names are decided as before; the reason is told once.  In a
 * child process: the filter cannot be taken off again.
 */
static void
test_hostaddrs_unread(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	if ((pid = fork()) == 0)
		_exit(unread_checks());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0xff);
}

static void
test_ipv6_counts_per_64(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	char key[ADDR_KEY_MAX];
	struct ceremony *c;

	addr_key_from_text("2001:db8:1:2:aaaa::1", key);
	assert_string_equal(key, "2001:db8:1:2::/64");
	addr_key_from_text("::ffff:192.0.2.9", key);
	assert_string_equal(key, "192.0.2.9");
	addr_key_from_text("host.example", key);
	assert_string_equal(key, "host.example");
	addr_key_from_text("", key);
	assert_string_equal(key, "");
	/* two /128s of one /64 are one address */
	begin_ok(t, "a", "2001:db8:1:2::1", 1000);
	begin_ok(t, "b", "2001:db8:1:2::2", 1000);
	begin_ok(t, "c", "2001:db8:1:2:ffff::3", 1000);
	assert_int_equal(begin(t, "d", "2001:db8:1:2::4", 1000, &c), CTL_REFUSAL_LIMIT_ADDRESS);
	begin_ok(t, "d", "2001:db8:1:3::4", 1000);
	ceremony_table_free(t);
}

static void
test_finish_frees_a_place(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "u", "h1", 1000), *c;
	uint8_t zero[CEREMONY_CHALLENGE_LEN] = { 0 };

	begin_ok(t, "u", "h1", 1000);
	assert_int_equal(begin(t, "u", "h1", 1000, &c), CTL_REFUSAL_LIMIT_USER_ADDRESS);
	ceremony_finish(t, a, CTL_STATE_DENIED, "denied", 1001);
	assert_int_equal(ceremony_pending_count(t), 1);
	assert_int_equal(begin(t, "u", "h1", 1001, &c), CTL_REFUSAL_NONE);
	/* the spent challenge is gone */
	assert_memory_equal(a->challenge, zero, sizeof(zero));
	ceremony_table_free(t);
}

static int expired_calls;

static void
on_expire(struct ceremony *c, void *arg)
{
	assert_int_equal(c->state, CTL_STATE_EXPIRED);
	expired_calls++;
}

static void
test_sweep_expires_then_forgets(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "u", "h1", 1000);
	char token[CEREMONY_TOKEN_LEN + 1];

	strcpy(token, a->token);
	expired_calls = 0;
	ceremony_sweep(t, 1089, on_expire, NULL);
	assert_int_equal(a->state, CTL_STATE_PENDING);
	ceremony_sweep(t, 1090, on_expire, NULL);
	assert_int_equal(expired_calls, 1);
	assert_int_equal(a->state, CTL_STATE_EXPIRED);
	assert_int_equal(ceremony_pending_count(t), 0);
	/* remembered for a while, so the page can say "expired" */
	ceremony_sweep(t, 1090 + CEREMONY_KEEP_FINAL - 1, on_expire, NULL);
	assert_non_null(ceremony_find(t, token));
	ceremony_sweep(t, 1090 + CEREMONY_KEEP_FINAL, on_expire, NULL);
	assert_null(ceremony_find(t, token));
	assert_int_equal(ceremony_count(t), 0);
	assert_int_equal(expired_calls, 1);
	ceremony_table_free(t);
}

/*
 * Two lifetimes: logins (the usual one, swept from a cursor in creation
 * order) and a long enrollment link (kept apart and walked whole).
 */
static void
test_sweep_mixed_lifetimes(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "u", "h1", 1000), *b, *c;
	char ta[CEREMONY_TOKEN_LEN + 1], tb[CEREMONY_TOKEN_LEN + 1], tc[CEREMONY_TOKEN_LEN + 1];

	assert_int_equal(ceremony_begin(t, &(struct ceremony_spec){ .kind = CEREMONY_REGISTER,
	    .user = "v", .rhost = "", .service = "passkeyctl", .lifetime = 86400 }, 1000, &b),
	    CTL_REFUSAL_NONE);
	c = begin_ok(t, "w", "h2", 1001);
	strcpy(ta, a->token);
	strcpy(tb, b->token);
	strcpy(tc, c->token);
	expired_calls = 0;
	ceremony_sweep(t, 1090, on_expire, NULL);
	assert_int_equal(a->state, CTL_STATE_EXPIRED);
	assert_int_equal(c->state, CTL_STATE_PENDING);
	assert_int_equal(b->state, CTL_STATE_PENDING);
	ceremony_sweep(t, 1091, on_expire, NULL);
	assert_int_equal(c->state, CTL_STATE_EXPIRED);
	assert_int_equal(expired_calls, 2);
	/* forgotten in turn; the long one stays pending */
	ceremony_sweep(t, 1090 + CEREMONY_KEEP_FINAL, on_expire, NULL);
	assert_null(ceremony_find(t, ta));
	assert_non_null(ceremony_find(t, tc));
	ceremony_sweep(t, 1091 + CEREMONY_KEEP_FINAL, on_expire, NULL);
	assert_null(ceremony_find(t, tc));
	assert_ptr_equal(ceremony_find(t, tb), b);
	assert_int_equal(b->state, CTL_STATE_PENDING);
	/* a login begun now still expires on time behind the long one */
	c = begin_ok(t, "w", "h2", 2000);
	ceremony_sweep(t, 2090, on_expire, NULL);
	assert_int_equal(c->state, CTL_STATE_EXPIRED);
	ceremony_sweep(t, 1000 + 86400, on_expire, NULL);
	assert_int_equal(b->state, CTL_STATE_EXPIRED);
	ceremony_table_free(t);
}

/*
 * Past twice the total bound of remembered final ceremonies, the oldest
 * are forgotten, but an approval the module has not collected goes last
 * (past four times): abandoned logins, which anyone who can reach sshd
 * can churn, must not fail a login its user approved.
 */
static void
test_memory_bound_keeps_approvals(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "alice", "h0", 1000), *c;
	char ta[CEREMONY_TOKEN_LEN + 1];
	char rhost[16];

	(void)state;
	strcpy(ta, a->token);
	ceremony_finish(t, a, CTL_STATE_APPROVED, NULL, 1001);
	for (unsigned i = 0; i < 2 * limits.total; i++) {
		snprintf(rhost, sizeof(rhost), "h%u", i + 1);
		c = begin_ok(t, "bob", rhost, 1002);
		ceremony_finish(t, c, CTL_STATE_CANCELLED, "client_gone", 1002);
	}
	ceremony_sweep(t, 1003, NULL, NULL);
	assert_ptr_equal(ceremony_find(t, ta), a);
	assert_int_equal(a->state, CTL_STATE_APPROVED);
	assert_in_range(ceremony_count(t), 1, 2 * limits.total);
	/* past four times the bound, even it goes: memory stays bounded */
	for (unsigned i = 0; i < 4 * limits.total; i++) {
		snprintf(rhost, sizeof(rhost), "k%u", i);
		c = begin_ok(t, "carol", rhost, 1004);
		ceremony_finish(t, c, CTL_STATE_APPROVED, NULL, 1004);
	}
	ceremony_sweep(t, 1005, NULL, NULL);
	assert_null(ceremony_find(t, ta));
	assert_in_range(ceremony_count(t), 1, 4 * limits.total);
	ceremony_table_free(t);
}

/* An approval being written is decided by the store, not by the clock. */
static void
test_committing_is_not_expired(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "u", "h1", 1000);

	a->committing = 1;
	ceremony_sweep(t, 2000, on_expire, NULL);
	assert_int_equal(a->state, CTL_STATE_PENDING);
	ceremony_finish(t, a, CTL_STATE_APPROVED, NULL, 2001);
	assert_int_equal(a->committing, 0);
	assert_int_equal(ceremony_pending_count(t), 0);
	ceremony_table_free(t);
}

static void
test_final_states_are_bounded(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);

	/* many finished ceremonies within the remembering window */
	for (int i = 0; i < 40; i++) {
		char user[16];
		snprintf(user, sizeof(user), "u%d", i);
		struct ceremony *c = begin_ok(t, user, "", 1000 + i);
		ceremony_finish(t, c, CTL_STATE_USED, NULL, 1000 + i);
	}
	ceremony_sweep(t, 1050, NULL, NULL);
	assert_true(ceremony_count(t) <= 2 * limits.total);
	ceremony_table_free(t);
}

/*
 * The bound holds whatever came first and whatever the clock did.  The
 * usual lifetime is the configuration's, not the first ceremony's: when
 * root's day-long enrollment link came first after a start, every login
 * went to the list of other lifetimes, which the bound did not walk, and
 * abandoned logins (anyone who can reach sshd) piled up unbounded.  The
 * logins begun after a clock step back go to that list too.
 */
static void
test_bound_whatever_came_first(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *e, *c;
	char user[16];

	(void)state;
	assert_int_equal(ceremony_begin(t, &(struct ceremony_spec){ .kind = CEREMONY_REGISTER,
	    .user = "root", .rhost = "", .service = "passkeyctl", .lifetime = 86400 }, 1000, &e),
	    CTL_REFUSAL_NONE);
	for (int i = 0; i < 40; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		c = begin_ok(t, user, "", 1000 + i);
		assert_int_equal(c->in_other, 0);	/* a login's lifetime: the usual list */
		ceremony_finish(t, c, CTL_STATE_CANCELLED, "cancelled", 1000 + i);
	}
	ceremony_sweep(t, 1050, NULL, NULL);
	assert_int_equal(ceremony_count(t), 2 * limits.total);
	assert_ptr_equal(ceremony_find(t, e->token), e);	/* pending: kept */
	/* the clock steps back an hour: what is begun now is out of order */
	for (int i = 0; i < 40; i++) {
		snprintf(user, sizeof(user), "w%d", i);
		c = begin_ok(t, user, "", 1050 - 3600 + i);
		assert_int_equal(c->in_other, 1);
		ceremony_finish(t, c, CTL_STATE_CANCELLED, "cancelled", 1050 - 3600 + i);
	}
	ceremony_sweep(t, 1100 - 3600, NULL, NULL);
	assert_true(ceremony_count(t) <= 2 * limits.total);
	assert_ptr_equal(ceremony_find(t, e->token), e);
	ceremony_table_free(t);
}

/*
 * A ceremony whose store call is off the loop (calls) is not forgotten,
 * however old its final state or however many are remembered: the call's
 * answer finds it when it comes back.
 */
static void
test_called_is_not_forgotten(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "u", "h1", 1000), *found;

	(void)state;
	ceremony_finish(t, a, CTL_STATE_APPROVED, NULL, 1001);
	a->calls = 1;
	ceremony_sweep(t, 1001 + CEREMONY_KEEP_FINAL + 100, NULL, NULL);
	found = ceremony_find(t, a->token);
	assert_ptr_equal(found, a);
	/* the memory bound on final states passes it by too */
	for (int i = 0; i < 40; i++) {
		char user[16];
		snprintf(user, sizeof(user), "v%d", i);
		struct ceremony *c = begin_ok(t, user, "", 2000 + i);
		ceremony_finish(t, c, CTL_STATE_USED, NULL, 2000 + i);
	}
	ceremony_sweep(t, 2050, NULL, NULL);
	assert_ptr_equal(ceremony_find(t, a->token), a);
	/* its call answered: forgotten as any other */
	a->calls = 0;
	ceremony_sweep(t, 2050 + CEREMONY_KEEP_FINAL + 100, NULL, NULL);
	assert_int_equal(ceremony_count(t), 0);
	ceremony_table_free(t);
}

/* What the forget hook saw: each ceremony's user and state as it was forgotten. */
static char forgot_user[8][16];
static int forgot_state[8];
static int nforgot;

static void
on_forget(struct ceremony *c, void *arg)
{
	assert_ptr_equal(arg, &nforgot);
	assert_true(nforgot < 8);
	snprintf(forgot_user[nforgot], sizeof(forgot_user[0]), "%s", c->user);
	forgot_state[nforgot++] = c->state;
}

/*
 * Every way the sweep forgets a ceremony tells the hook first, with the
 * ceremony whole (flow.c ends an uncollected approval's window there):
 * the end of the usual lifetime's keeping, another lifetime's, and the
 * memory bound, which drops approvals last.  Freeing the table at exit
 * tells nothing.
 */
static void
test_forget_tells(void **state)
{
	struct ceremony_table *t = ceremony_table_new(limits);
	struct ceremony *a = begin_ok(t, "a", "h1", 1000), *b, *c;
	char user[16];

	(void)state;
	nforgot = 0;
	ceremony_table_on_forget(t, on_forget, &nforgot);
	ceremony_finish(t, a, CTL_STATE_APPROVED, NULL, 1001);
	assert_int_equal(ceremony_begin(t, &(struct ceremony_spec){ .kind = CEREMONY_REGISTER,
	    .user = "b", .rhost = "", .service = "passkeyctl", .lifetime = 86400 }, 1000, &b),
	    CTL_REFUSAL_NONE);
	ceremony_finish(t, b, CTL_STATE_CANCELLED, "cancelled", 1002);
	ceremony_sweep(t, 1090 + CEREMONY_KEEP_FINAL - 1, NULL, NULL);
	assert_int_equal(nforgot, 0);
	ceremony_sweep(t, 1090 + CEREMONY_KEEP_FINAL, NULL, NULL);
	assert_int_equal(nforgot, 1);
	assert_string_equal(forgot_user[0], "a");
	assert_int_equal(forgot_state[0], CTL_STATE_APPROVED);
	ceremony_sweep(t, 1000 + 86400 + CEREMONY_KEEP_FINAL, NULL, NULL);
	assert_int_equal(nforgot, 2);
	assert_string_equal(forgot_user[1], "b");
	assert_int_equal(forgot_state[1], CTL_STATE_CANCELLED);
	/* past four times the total of approvals not collected: the oldest two go */
	for (unsigned i = 0; i < 4 * limits.total + 2; i++) {
		snprintf(user, sizeof(user), "m%u", i);
		c = begin_ok(t, user, "", 90000 + i);
		ceremony_finish(t, c, CTL_STATE_APPROVED, NULL, 90000 + i);
	}
	ceremony_sweep(t, 90000 + 4 * limits.total + 2, NULL, NULL);
	assert_int_equal(nforgot, 4);
	assert_string_equal(forgot_user[2], "m0");
	assert_string_equal(forgot_user[3], "m1");
	assert_int_equal(forgot_state[3], CTL_STATE_APPROVED);
	assert_int_equal(ceremony_count(t), 4 * limits.total);
	ceremony_table_free(t);
	assert_int_equal(nforgot, 4);
}

/* ---- offload: store calls off the loop --------------------------------- */

struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open, entered;
	int open_after_ms;	/* open_gate_later's delay */
};

struct probe {
	int n;			/* its place in the order of adding */
	store_err_t give;	/* what fn returns */
	struct gate *gate;	/* fn waits for it to open, when set */
	int *order;		/* done writes n here, in the order dones run */
	int *ndone;
	store_err_t got;
	int ran;
};

static store_err_t
probe_fn(store_t *st, void *arg)
{
	struct probe *p = arg;

	assert_non_null(st);	/* the worker's own connection */
	if (p->gate != NULL) {
		pthread_mutex_lock(&p->gate->mu);
		p->gate->entered = 1;
		pthread_cond_broadcast(&p->gate->cv);
		while (!p->gate->open)
			pthread_cond_wait(&p->gate->cv, &p->gate->mu);
		pthread_mutex_unlock(&p->gate->mu);
	}
	p->ran = 1;
	return p->give;
}

static void
probe_done(struct passkeyd *d, void *arg, store_err_t result)
{
	struct probe *p = arg;

	(void)d;
	p->got = result;
	p->order[(*p->ndone)++] = p->n;
}

static store_t *
scratch_store(char *path, size_t len)
{
	store_t *st = NULL;
	char spec[256];
	int fd;

	snprintf(path, len, "/tmp/test-offload-XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	unlink(path);
	snprintf(spec, sizeof(spec), "sqlite:%s", path);
	assert_int_equal(store_open(spec, &st), STORE_OK);
	return st;
}

/* Waits until the offload's pipe says answers are there, then takes them. */
static void
flush_when_ready(struct offload *o)
{
	struct pollfd pfd = { .fd = offload_poll_fd(o), .events = POLLIN };

	assert_true(pfd.fd >= 0);
	assert_int_equal(poll(&pfd, 1, 2 * OFFLOAD_MAX_WAIT_MS), 1);
	offload_flush(o, NULL);
}

static void
test_offload(void **state)
{
	struct offload *o = offload_new();
	struct probe p[8];
	int order[8], ndone = 0;
	char path[64];

	(void)state;
	/* no worker: nothing is handed off, the caller calls the store itself */
	assert_false(offload_ready(o));
	assert_int_equal(offload_poll_fd(o), -1);
	assert_int_equal(offload_add(o, probe_fn, probe_done, &p[0]), -1);
	assert_int_equal(offload_start_worker(o, scratch_store(path, sizeof(path))), 0);
	assert_true(offload_ready(o));
	/* each call's own result, each done once, in the order of adding (one worker) */
	for (int i = 0; i < 8; i++) {
		p[i] = (struct probe){ .n = i, .give = i % 2 ? STORE_ERR_BUSY : STORE_OK,
		    .order = order, .ndone = &ndone };
		assert_int_equal(offload_add(o, probe_fn, probe_done, &p[i]), 0);
	}
	for (int tries = 0; ndone < 8 && tries < 100; tries++)
		flush_when_ready(o);
	assert_int_equal(ndone, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(order[i], i);
		assert_int_equal(p[i].got, i % 2 ? STORE_ERR_BUSY : STORE_OK);
	}
	assert_int_equal(offload_outstanding(o), 0);
	offload_free(o, NULL);
	unlink(path);
}

static void *
open_gate_later(void *arg)
{
	struct gate *g = arg;

	(void)poll(NULL, 0, g->open_after_ms);
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/*
 * Stopping: the running call ends and is answered with its result; the
 * ones still queued are answered STORE_ERR_UNAVAILABLE without running.
 * Meanwhile the bound holds: beyond OFFLOAD_MAX_CALLS nothing is added.
 */
static void
test_offload_stop_and_bound(void **state)
{
	/* opened once offload_free has surely begun to stop */
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 1000 };
	struct offload *o = offload_new();
	struct probe first, *queued = calloc(OFFLOAD_MAX_CALLS, sizeof(*queued));
	int *order = calloc(OFFLOAD_MAX_CALLS + 1, sizeof(*order)), ndone = 0;
	pthread_t opener;
	char path[64];

	(void)state;
	assert_non_null(queued);
	assert_int_equal(offload_start_worker(o, scratch_store(path, sizeof(path))), 0);
	first = (struct probe){ .n = 0, .give = STORE_OK, .gate = &g, .order = order,
	    .ndone = &ndone };
	assert_int_equal(offload_add(o, probe_fn, probe_done, &first), 0);
	pthread_mutex_lock(&g.mu);
	while (!g.entered)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);
	/* the worker holds the first call: the rest queue up to the bound */
	for (int i = 1; i < OFFLOAD_MAX_CALLS; i++) {
		queued[i] = (struct probe){ .n = i, .give = STORE_OK, .order = order,
		    .ndone = &ndone };
		assert_int_equal(offload_add(o, probe_fn, probe_done, &queued[i]), 0);
	}
	assert_int_equal(offload_outstanding(o), OFFLOAD_MAX_CALLS);
	assert_int_equal(offload_add(o, probe_fn, probe_done, &queued[0]), -1);
	assert_int_equal(pthread_create(&opener, NULL, open_gate_later, &g), 0);
	offload_free(o, NULL);
	pthread_join(opener, NULL);
	assert_int_equal(first.got, STORE_OK);
	assert_true(first.ran);
	assert_int_equal(ndone, OFFLOAD_MAX_CALLS);
	for (int i = 1; i < OFFLOAD_MAX_CALLS; i++) {
		assert_false(queued[i].ran);
		assert_int_equal(queued[i].got, STORE_ERR_UNAVAILABLE);
	}
	free(queued);
	free(order);
	unlink(path);
}

/* A call that waited in the queue too long is answered busy, not run. */
static void
test_offload_wait_is_bounded(void **state)
{
	/* opened once the second call has waited past the bound */
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
	    OFFLOAD_MAX_WAIT_MS + 300 };
	struct offload *o = offload_new();
	struct probe first, second;
	int order[2], ndone = 0;
	pthread_t opener;
	char path[64];

	(void)state;
	assert_int_equal(offload_start_worker(o, scratch_store(path, sizeof(path))), 0);
	first = (struct probe){ .n = 0, .give = STORE_OK, .gate = &g, .order = order,
	    .ndone = &ndone };
	second = (struct probe){ .n = 1, .give = STORE_OK, .order = order, .ndone = &ndone };
	assert_int_equal(offload_add(o, probe_fn, probe_done, &first), 0);
	assert_int_equal(offload_add(o, probe_fn, probe_done, &second), 0);
	assert_int_equal(pthread_create(&opener, NULL, open_gate_later, &g), 0);
	for (int tries = 0; ndone < 2 && tries < 100; tries++)
		flush_when_ready(o);
	pthread_join(opener, NULL);
	assert_int_equal(ndone, 2);
	assert_true(first.ran);
	assert_int_equal(first.got, STORE_OK);
	assert_false(second.ran);
	assert_int_equal(second.got, STORE_ERR_BUSY);
	offload_free(o, NULL);
	unlink(path);
}

/* The counts behind the limits: exact, and forgotten at zero. */
static void
test_countmap(void **state)
{
	struct countmap *m = countmap_new();
	char key[16];

	assert_non_null(m);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", i % 1000);
		assert_int_equal(countmap_inc(m, key, strlen(key)), 0);
	}
	assert_int_equal(countmap_size(m), 1000);
	assert_int_equal(countmap_get(m, "k7", 2), 5);
	assert_int_equal(countmap_get(m, "k7\0x", 4), 0);	/* keys may hold NULs */
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", i % 1000);
		countmap_dec(m, key, strlen(key));
	}
	assert_int_equal(countmap_size(m), 0);
	countmap_dec(m, "absent", 6);
	assert_int_equal(countmap_get(m, "k7", 2), 0);
	countmap_free(m);
}

/*
 * The loop's share for listings (share.h): unlimited while the loop has
 * time to spare; while other work keeps it busy, SHARE_PERCENT of the
 * time, and a page that overspent waits until the budget has grown back.
 */
static void
busy_window(struct share *s, int64_t *t, int percent)
{
	/* two windows of turns, each 1 ms long, `percent` of it other work */
	for (int i = 0; i < 2 * SHARE_WINDOW_US / 1000; i++) {
		*t += 1000;
		share_turn(s, *t, percent * 10);
	}
}

static void
test_share(void **state)
{
	struct share s;
	int64_t t = 1000000000, wait;

	(void)state;
	share_init(&s, t);
	/* an idle loop: a long page leaves no debt and no wait */
	share_charge(&s, SHARE_ROOT, 50000);
	share_turn(&s, t + 50000, 50000);	/* the page itself is not "other work" */
	t += 50000;
	busy_window(&s, &t, 0);
	assert_int_equal(share_wait_us(&s, SHARE_ROOT, t), 0);
	share_charge(&s, SHARE_ROOT, 50000);
	assert_int_equal(share_wait_us(&s, SHARE_ROOT, t + 1), 0);
	/* a few logins a second (10 % busy): still no wait */
	busy_window(&s, &t, 10);
	share_charge(&s, SHARE_ROOT, 50000);
	assert_int_equal(share_wait_us(&s, SHARE_ROOT, t), 0);
	/* other work keeps the loop busy: the burst may be spent, then pages wait */
	busy_window(&s, &t, 90);
	assert_int_equal(share_wait_us(&s, SHARE_ROOT, t), 0);
	share_charge(&s, SHARE_ROOT, SHARE_BURST_US + 300);
	wait = share_wait_us(&s, SHARE_ROOT, t);
	/* 300 us overspent: 300 * 100 / SHARE_PERCENT us of real time to grow back */
	assert_true(wait >= 300 * 100 / SHARE_PERCENT &&
	    wait <= 300 * 100 / SHARE_PERCENT + 2);
	assert_true(share_wait_us(&s, SHARE_ROOT, t + wait / 2) > 0);
	assert_int_equal(share_wait_us(&s, SHARE_ROOT, t + wait), 0);
	/* the budget grows back to the burst, never beyond it */
	t += 100000;
	assert_int_equal(share_wait_us(&s, SHARE_ROOT, t), 0);
	share_charge(&s, SHARE_ROOT, SHARE_BURST_US + 1);
	assert_true(share_wait_us(&s, SHARE_ROOT, t) > 0);
	/* a read that overran by far leaves a bounded debt: the wait is at most 1 s */
	share_charge(&s, SHARE_ROOT, 5000000);
	wait = share_wait_us(&s, SHARE_ROOT, t);
	assert_true(wait > 0 && wait <= (int64_t)SHARE_MAX_DEBT_US * 100 / SHARE_PERCENT + 1);
	assert_true(s.held >= 4);
	/* root's budget is its own: the other accounts' reads do not wait for it */
	assert_int_equal(share_wait_us(&s, SHARE_USERS, t), 0);
	share_charge(&s, SHARE_USERS, 5000000);
	assert_true(share_wait_us(&s, SHARE_USERS, t) > 0);
	/* the loop quiet again for a window: the pages run freely */
	share_turn(&s, t + SHARE_WINDOW_US, 0);
	assert_int_equal(share_wait_us(&s, SHARE_ROOT, t + SHARE_WINDOW_US), 0);
}

/* A fresh P-256 key as a COSE_Key (RFC 9053). */
static size_t
cose_key(uint8_t out[77])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t raw[65];
	size_t n = sizeof(raw);

	assert_non_null(k);
	assert_true(EVP_PKEY_get_octet_string_param(k, "pub", raw, n, &n) && n == 65);
	memcpy(out, "\xa5\x01\x02\x03\x26\x20\x01\x21\x58\x20", 10);
	memcpy(out + 10, raw + 1, 32);
	memcpy(out + 42, "\x22\x58\x20", 3);
	memcpy(out + 45, raw + 33, 32);
	EVP_PKEY_free(k);
	return 77;
}

/* Parsed keys: reused while the stored bytes are the same, never stale. */
static void
test_keycache(void **state)
{
	struct keycache *k = keycache_new();
	const rp_pubkey_t *a, *b, *c;
	uint8_t k1[77], k2[77], id[8];

	assert_non_null(k);
	cose_key(k1);
	cose_key(k2);
	assert_int_equal(keycache_get(k, (const uint8_t *)"cred-1", 6, k1, 77, &a), RP_OK);
	assert_int_equal(keycache_get(k, (const uint8_t *)"cred-1", 6, k1, 77, &b), RP_OK);
	assert_ptr_equal(a, b);
	/* the same credential ID with another stored key: parsed anew */
	assert_int_equal(keycache_get(k, (const uint8_t *)"cred-1", 6, k2, 77, &c), RP_OK);
	assert_int_equal(keycache_size(k), 1);
	assert_int_equal(keycache_get(k, (const uint8_t *)"cred-1", 6, k2, 77, &b), RP_OK);
	assert_ptr_equal(b, c);
	/* a broken key is an RP core code and is not kept */
	k1[0] = 0x00;
	assert_int_not_equal(keycache_get(k, (const uint8_t *)"cred-2", 6, k1, 77, &a), RP_OK);
	assert_int_equal(keycache_size(k), 1);
	keycache_forget(k, (const uint8_t *)"cred-1", 6);
	assert_int_equal(keycache_size(k), 0);
	/* bounded: the oldest goes */
	for (uint32_t i = 0; i < KEYCACHE_MAX + 10; i++) {
		memcpy(id, &i, sizeof(i));
		memcpy(id + 4, "cred", 4);
		assert_int_equal(keycache_get(k, id, sizeof(id), k2, 77, &a), RP_OK);
	}
	assert_int_equal(keycache_size(k), KEYCACHE_MAX);
	keycache_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens_are_distinct_and_findable),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_other_addresses_do_not_lock_out),
		cmocka_unit_test(test_ipv6_counts_per_64),
		cmocka_unit_test(test_addr_is_this_host),
		cmocka_unit_test(test_hostaddrs_text_in),
		cmocka_unit_test(test_wallclock),
		cmocka_unit_test(test_hostaddrs_this_machine),
		cmocka_unit_test(test_hostaddrs_unread),
		cmocka_unit_test(test_finish_frees_a_place),
		cmocka_unit_test(test_sweep_expires_then_forgets),
		cmocka_unit_test(test_committing_is_not_expired),
		cmocka_unit_test(test_sweep_mixed_lifetimes),
		cmocka_unit_test(test_memory_bound_keeps_approvals),
		cmocka_unit_test(test_final_states_are_bounded),
		cmocka_unit_test(test_called_is_not_forgotten),
		cmocka_unit_test(test_forget_tells),
		cmocka_unit_test(test_bound_whatever_came_first),
		cmocka_unit_test(test_offload),
		cmocka_unit_test(test_offload_stop_and_bound),
		cmocka_unit_test(test_offload_wait_is_bounded),
		cmocka_unit_test(test_countmap),
		cmocka_unit_test(test_share),
		cmocka_unit_test(test_keycache),
	};

	return cmocka_run_group_tests_name("ceremony", tests, NULL, NULL);
}
