/*
 * ceremony-load: whole login ceremonies against a relying party that
 * speaks passkeyd's protocol (control/PROTOCOL.md, passkeyd/HTTP.md): our
 * daemon, or the JavaScript peer in bench/peer/.  One login is what sshd's
 * PAM module and a browser do together:
 *   control login_begin -> POST /api/T/options -> POST /api/T/finish (an
 *   ES256 assertion signed here with OpenSSL, a fresh counter) -> control
 *   status, on the same control connection, answered "approved".
 *
 *   ceremony-load --socket PATH --origin http://localhost:PORT
 *       --users N --concurrency C --seconds S [--register] [--user-prefix P]
 *
 * --register first registers a passkey for each user P0..P(N-1) (login_begin
 * with enroll=after-auth, a "none" attestation) and keeps the keys in memory,
 * then the load runs: C threads, each logging in its own users in turn, for
 * S seconds.  Prints one line: logins=N per_s=R p50_ms=A p99_ms=B errors=E.
 * With --interactive it prints "ready" after registering and then runs one
 * load per "run C S" line on stdin (C up to --concurrency), so that a driver
 * can interleave runs against two servers while each keeps its passkeys;
 * "run C S N" stops after N logins (a fixed amount of work, for profiles).
 * "verify N" prints verify_us=U: the CPU time of one raw ES256 verification
 * in OpenSSL, timed here over N, a baseline taken in the same run.
 * libcurl carries the HTTP (keep-alive per thread), jansson reads the
 * answers, OpenSSL makes the keys and signatures; no other library does a
 * whole ceremony, so the glue is written here.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "rp_b64url.h"

#define RP_ID		"localhost"
#define MAX_USERS	4096
#define MAX_THREADS	256
#define FLAG_UP		0x01
#define FLAG_UV		0x04
#define FLAG_AT		0x40

struct user {
	char name[32];
	EVP_PKEY *key;
	uint8_t cred_id[32];
	uint8_t handle[64];
	size_t handle_len;
	uint32_t count;
	int ready;
};

static const char *sock_path, *origin, *prefix = "bench";
static int n_users = 64, concurrency = 1, seconds = 5, do_register;
static struct user users[MAX_USERS];
static volatile int stop_flag;
/* "run C S N": at most N logins in all (0: as many as S seconds allow) */
static unsigned long login_limit, logins_started;

/* The clock's time in seconds: CLOCK_MONOTONIC for latencies, a CPU clock for work. */
static double
clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static void
die(const char *what)
{
	fprintf(stderr, "ceremony-load: %s\n", what);
	exit(1);
}

/* ---- the control socket: one connection per login, as the module does -- */

struct ctl {
	int fd;
	char buf[16384];
	size_t len;
};

static int
ctl_open(struct ctl *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	c->len = 0;
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(c->fd);
		return -1;
	}
	return 0;
}

static json_t *
ctl_ask(struct ctl *c, json_t *req)
{
	char *line = json_dumps(req, JSON_COMPACT);
	size_t n;
	json_t *out;

	json_decref(req);
	if (line == NULL)
		return NULL;
	n = strlen(line);
	line[n] = '\n';
	if (send(c->fd, line, n + 1, MSG_NOSIGNAL) != (ssize_t)(n + 1)) {
		free(line);
		return NULL;
	}
	free(line);
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t r;

		if (nl != NULL) {
			size_t l = (size_t)(nl - c->buf);

			out = json_loadb(c->buf, l, 0, NULL);
			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			return out;
		}
		if (c->len == sizeof(c->buf))
			return NULL;
		r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r <= 0)
			return NULL;
		c->len += (size_t)r;
	}
}

/* ---- HTTP -------------------------------------------------------------- */

struct body {
	char buf[65536];
	size_t len;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t k = size * n;

	if (b->len + k >= sizeof(b->buf))
		return 0;
	memcpy(b->buf + b->len, p, k);
	b->len += k;
	b->buf[b->len] = '\0';
	return k;
}

/* POST /api/TOKEN/op with body; the answer as JSON (and *status). */
static json_t *
api(CURL *curl, struct curl_slist *hdr, const char *token, const char *op,
    const char *body, long *status)
{
	char url[512];
	struct body b = { .len = 0 };

	snprintf(url, sizeof(url), "%s/api/%s/%s", origin, token, op);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	*status = 0;
	if (curl_easy_perform(curl) != CURLE_OK)
		return NULL;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	return json_loadb(b.buf, b.len, 0, NULL);
}

/*
 * Each thread is a browser of its own, from an address of its own on
 * loopback (127.0.1.ID+1): a relying party may bound connections per
 * address, as passkeyd does (http_max_per_address).
 */
static CURL *
http_new(int id, struct curl_slist **hdr)
{
	CURL *curl = curl_easy_init();
	char o[300], from[64];

	if (curl == NULL)
		die("curl");
	snprintf(o, sizeof(o), "Origin: %s", origin);
	*hdr = curl_slist_append(NULL, "Content-Type: application/json");
	*hdr = curl_slist_append(*hdr, o);
	snprintf(from, sizeof(from), "host!127.0.%d.%d", 1 + id / 250, 1 + id % 250);
	curl_easy_setopt(curl, CURLOPT_INTERFACE, from);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	return curl;
}

/* ---- WebAuthn messages --------------------------------------------------- */

static char *
b64(const void *p, size_t n)
{
	char *s = rp_b64url_encode_alloc(p, n);

	if (s == NULL)
		die("out of memory");
	return s;
}

/* The P-256 COSE_Key (RFC 9053, CTAP2 canonical order). */
static size_t
cose_es256(EVP_PKEY *k, uint8_t out[77])
{
	uint8_t raw[65];
	size_t n = sizeof(raw);

	if (!EVP_PKEY_get_octet_string_param(k, "pub", raw, n, &n) || n != 65)
		die("P-256 public key");
	memcpy(out, "\xa5\x01\x02\x03\x26\x20\x01\x21\x58\x20", 10);
	memcpy(out + 10, raw + 1, 32);
	memcpy(out + 42, "\x22\x58\x20", 3);
	memcpy(out + 45, raw + 33, 32);
	return 77;
}

static size_t
sign(EVP_PKEY *k, const uint8_t *m, size_t mlen, uint8_t *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = 80;

	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(ctx, sig, &n, m, mlen) != 1)
		die("signing");
	EVP_MD_CTX_free(ctx);
	return n;
}

static int cmp_double(const void *a, const void *b);

/*
 * What a relying party's verification costs at least: OpenSSL's
 * EVP_DigestVerify (init, SHA-256, ECDSA P-256) over what an assertion
 * signs (authData || SHA-256 of clientDataJSON: 69 bytes), with the key of
 * a user registered here.  CPU time of this thread, the median of five
 * batches' means: a login's CPU can then be read in verifications, which
 * carries over between machines as milliseconds do not.
 */
static void
verify_baseline(int n)
{
	uint8_t m[69], sig[80];
	double batch[5];
	size_t len;
	EVP_MD_CTX *ctx;
	int per = n / 5 > 0 ? n / 5 : 1;

	if (RAND_bytes(m, sizeof(m)) != 1)
		die("random");
	len = sign(users[0].key, m, sizeof(m), sig);
	for (int b = 0; b < 5; b++) {
		double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);

		for (int i = 0; i < per; i++) {
			if ((ctx = EVP_MD_CTX_new()) == NULL ||
			    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, users[0].key) != 1 ||
			    EVP_DigestVerify(ctx, sig, len, m, sizeof(m)) != 1)
				die("verifying");
			EVP_MD_CTX_free(ctx);
		}
		batch[b] = (clock_s(CLOCK_THREAD_CPUTIME_ID) - t0) / per;
	}
	qsort(batch, 5, sizeof(batch[0]), cmp_double);
	printf("verify_us=%.2f\n", batch[2] * 1e6);
}

static char *
client_data(const char *type, const char *challenge, size_t *len)
{
	char *s = malloc(1024);

	if (s == NULL)
		die("out of memory");
	*len = (size_t)snprintf(s, 1024, "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\","
	    "\"crossOrigin\":false}", type, challenge, origin);
	return s;
}

/* navigator.credentials.create() with fmt "none": the PublicKeyCredential JSON. */
static char *
create(struct user *u, const json_t *pk)
{
	const char *challenge = json_string_value(json_object_get(pk, "challenge"));
	const char *handle = json_string_value(json_object_get(json_object_get(pk, "user"), "id"));
	uint8_t ad[37 + 16 + 2 + 32 + 77], ao[300], *h = NULL;
	size_t cdl, adl = 0, aol = 0, hl = 0;
	char *cdj, *out, *s1, *s2, *s3;

	if (challenge == NULL || handle == NULL ||
	    rp_b64url_decode_alloc(handle, strlen(handle), &h, &hl) != 0 || hl > sizeof(u->handle))
		return NULL;
	memcpy(u->handle, h, hl);
	u->handle_len = hl;
	free(h);
	cdj = client_data("webauthn.create", challenge, &cdl);
	SHA256((const uint8_t *)RP_ID, strlen(RP_ID), ad);
	ad[32] = FLAG_UP | FLAG_UV | FLAG_AT;
	memset(ad + 33, 0, 4 + 16);			/* counter 0, AAGUID 0 */
	ad[53] = 0;
	ad[54] = sizeof(u->cred_id);
	memcpy(ad + 55, u->cred_id, sizeof(u->cred_id));
	adl = 55 + sizeof(u->cred_id) + cose_es256(u->key, ad + 55 + sizeof(u->cred_id));
	/* {"fmt":"none","attStmt":{},"authData":h'..'} */
	memcpy(ao, "\xa3\x63" "fmt" "\x64" "none" "\x67" "attStmt" "\xa0" "\x68" "authData"
	    "\x58", 29);
	aol = 29;
	ao[aol++] = (uint8_t)adl;
	memcpy(ao + aol, ad, adl);
	aol += adl;
	s1 = b64(cdj, cdl);
	s2 = b64(ao, aol);
	s3 = b64(u->cred_id, sizeof(u->cred_id));
	if ((out = malloc(4096)) == NULL)
		die("out of memory");
	snprintf(out, 4096, "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\","
	    "\"response\":{\"clientDataJSON\":\"%s\",\"attestationObject\":\"%s\","
	    "\"transports\":[\"internal\"]},\"clientExtensionResults\":{}}", s3, s3, s1, s2);
	free(cdj), free(s1), free(s2), free(s3);
	return out;
}

/* navigator.credentials.get(): the assertion JSON, with the next counter. */
static char *
get(struct user *u, const json_t *pk)
{
	const char *challenge = json_string_value(json_object_get(pk, "challenge"));
	uint8_t m[37 + 32], sig[80];
	size_t cdl, sl;
	char *cdj, *out, *s1, *s2, *s3, *s4, *s5;
	uint32_t c;

	if (challenge == NULL)
		return NULL;
	cdj = client_data("webauthn.get", challenge, &cdl);
	c = ++u->count;
	SHA256((const uint8_t *)RP_ID, strlen(RP_ID), m);
	m[32] = FLAG_UP | FLAG_UV;
	m[33] = (uint8_t)(c >> 24), m[34] = (uint8_t)(c >> 16);
	m[35] = (uint8_t)(c >> 8), m[36] = (uint8_t)c;
	SHA256((const uint8_t *)cdj, cdl, m + 37);
	sl = sign(u->key, m, sizeof(m), sig);
	s1 = b64(cdj, cdl);
	s2 = b64(m, 37);
	s3 = b64(sig, sl);
	s4 = b64(u->cred_id, sizeof(u->cred_id));
	s5 = b64(u->handle, u->handle_len);
	if ((out = malloc(4096)) == NULL)
		die("out of memory");
	snprintf(out, 4096, "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\","
	    "\"response\":{\"clientDataJSON\":\"%s\",\"authenticatorData\":\"%s\","
	    "\"signature\":\"%s\",\"userHandle\":\"%s\"},\"clientExtensionResults\":{}}",
	    s4, s4, s1, s2, s3, s5);
	free(cdj), free(s1), free(s2), free(s3), free(s4), free(s5);
	return out;
}

/* ---- one ceremony -------------------------------------------------------- */

struct worker {
	int id;
	CURL *curl;
	struct curl_slist *hdr;
	unsigned long done, errors;
	double *lat;
	size_t nlat, caplat;
	/* the status request after the approval: the user's Enter -> PAM_SUCCESS */
	double *enter;
	size_t nenter, capenter;
	/* each step's time, for where a login's time goes: begin, options, finish */
	double *step[3];
	size_t nstep[3], capstep[3];
	char last_error[200];
};

static void
push(double **v, size_t *n, size_t *cap, double x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 1024;
		if ((*v = realloc(*v, *cap * sizeof(double))) == NULL)
			die("out of memory");
	}
	(*v)[(*n)++] = x;
}

static void
fail(struct worker *w, const char *what, const json_t *j)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	w->errors++;
	snprintf(w->last_error, sizeof(w->last_error), "%s: %s", what, s ? s : "(no answer)");
	free(s);
}

/* A step of a login (not of a registration) took from *t to now. */
static void
step_done(struct worker *w, int k, double *t)
{
	double now = now_s();

	push(&w->step[k], &w->nstep[k], &w->capstep[k], now - *t);
	*t = now;
}

static int
ceremony(struct worker *w, struct user *u, int registering)
{
	struct ctl c;
	json_t *j, *opt = NULL, *fin = NULL;
	char *resp = NULL, token[64], rhost[32];
	double t_enter, t_step;
	long st;
	int rc = -1;

	if (ctl_open(&c) != 0) {
		fail(w, "connect", NULL);
		return -1;
	}
	snprintf(rhost, sizeof(rhost), "10.%d.%d.%d", w->id / 250, w->id % 250, 1);
	t_step = now_s();
	/* resolved: as pam_passkey sends it, having looked the name up itself */
	j = ctl_ask(&c, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s}", "op", "login_begin",
	    "user", u->name, "resolved", 1, "rhost", rhost, "service", "bench",
	    "enroll", registering ? "after-auth" : "none"));
	if (j == NULL || !json_is_true(json_object_get(j, "ok"))) {
		fail(w, "login_begin", j);
		goto out;
	}
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
	json_decref(j);
	j = NULL;
	step_done(w, 0, &t_step);
	if ((opt = api(w->curl, w->hdr, token, "options", "{}", &st)) == NULL || st != 200) {
		fail(w, "options", opt);
		goto out;
	}
	step_done(w, 1, &t_step);
	resp = registering ? create(u, json_object_get(opt, "publicKey")) :
	    get(u, json_object_get(opt, "publicKey"));
	if (resp == NULL) {
		fail(w, "building the response", opt);
		goto out;
	}
	if ((fin = api(w->curl, w->hdr, token, "finish", resp, &st)) == NULL || st != 200) {
		fail(w, "finish", fin);
		goto out;
	}
	step_done(w, 2, &t_step);
	t_enter = now_s();
	j = ctl_ask(&c, json_pack("{s:s, s:s}", "op", "status", "token", token));
	if (j == NULL || strcmp(json_string_value(json_object_get(j, "state")) ?
	    json_string_value(json_object_get(j, "state")) : "", "approved") != 0) {
		fail(w, "status", j);
		goto out;
	}
	if (!registering)
		push(&w->enter, &w->nenter, &w->capenter, now_s() - t_enter);
	rc = 0;
out:
	json_decref(j);
	json_decref(opt);
	json_decref(fin);
	free(resp);
	close(c.fd);
	return rc;
}

static void *
run_worker(void *arg)
{
	struct worker *w = arg;
	/* this thread's users, in turn: id, id + C, id + 2C, ... below N */
	int mine = (n_users - w->id + concurrency - 1) / concurrency;
	int k = 0;

	while (!stop_flag) {
		int i = w->id + (k++ % mine) * concurrency;
		double t0 = now_s();

		if (login_limit > 0 &&
		    __atomic_fetch_add(&logins_started, 1, __ATOMIC_RELAXED) >= login_limit)
			break;

		if (ceremony(w, &users[i], 0) == 0) {
			push(&w->lat, &w->nlat, &w->caplat, now_s() - t0);
			w->done++;
		}
	}
	return NULL;
}

/* The workers' samples of one kind, sorted; *n their count. */
static double *
gather(struct worker *ws, int c, size_t off_v, size_t off_n, size_t *n)
{
	double *all;
	size_t total = 0;

	for (int k = 0; k < c; k++)
		total += *(size_t *)((char *)&ws[k] + off_n);
	if ((all = malloc((total + 1) * sizeof(double))) == NULL)
		die("out of memory");
	*n = 0;
	for (int k = 0; k < c; k++) {
		size_t m = *(size_t *)((char *)&ws[k] + off_n);

		memcpy(all + *n, *(double **)((char *)&ws[k] + off_v), m * sizeof(double));
		*n += m;
	}
	qsort(all, *n, sizeof(double), cmp_double);
	return all;
}

static double
pct_ms(const double *v, size_t n, double q)
{
	return n ? v[(size_t)((double)n * q)] * 1000 : -1.0;
}

/* C threads for S seconds; one result line. */
static int
run_load(struct worker *ws, int c, int secs, unsigned long limit)
{
	pthread_t th[MAX_THREADS];
	double t0, elapsed, *all, *enter;
	unsigned long done = 0, errors = 0;
	size_t nall, nenter;

	concurrency = c;
	stop_flag = 0;
	login_limit = limit;
	logins_started = 0;
	for (int k = 0; k < c; k++) {
		ws[k].done = ws[k].errors = 0;
		ws[k].nlat = ws[k].nenter = 0;
		ws[k].nstep[0] = ws[k].nstep[1] = ws[k].nstep[2] = 0;
	}
	t0 = now_s();
	for (int k = 0; k < c; k++)
		pthread_create(&th[k], NULL, run_worker, &ws[k]);
	/* with a limit, the workers stop by themselves (secs still bounds the run) */
	while (now_s() - t0 < secs && (limit == 0 ||
	    __atomic_load_n(&logins_started, __ATOMIC_RELAXED) < limit + (unsigned long)c))
		usleep(20000);
	stop_flag = 1;
	for (int k = 0; k < c; k++)
		pthread_join(th[k], NULL);
	elapsed = now_s() - t0;
	for (int k = 0; k < c; k++) {
		done += ws[k].done;
		errors += ws[k].errors;
		if (ws[k].errors)
			fprintf(stderr, "ceremony-load: thread %d: %lu errors, last: %s\n", k,
			    ws[k].errors, ws[k].last_error);
	}
	all = gather(ws, c, offsetof(struct worker, lat), offsetof(struct worker, nlat), &nall);
	enter = gather(ws, c, offsetof(struct worker, enter), offsetof(struct worker, nenter),
	    &nenter);
	printf("logins=%lu per_s=%.0f p50_ms=%.2f p99_ms=%.2f enter_p50_ms=%.3f"
	    " enter_p99_ms=%.3f errors=%lu", done, (double)done / elapsed,
	    pct_ms(all, nall, 0.5), pct_ms(all, nall, 0.99), pct_ms(enter, nenter, 0.5),
	    pct_ms(enter, nenter, 0.99), errors);
	for (int i = 0; i < 3; i++) {
		size_t n;
		double *v = gather(ws, c, offsetof(struct worker, step) + i * sizeof(double *),
		    offsetof(struct worker, nstep) + i * sizeof(size_t), &n);

		printf(" %s_p50_ms=%.3f", (const char *[]){ "begin", "options",
		    "finish" }[i], pct_ms(v, n, 0.5));
		free(v);
	}
	printf("\n");
	free(all);
	free(enter);
	return errors > done / 100 ? 1 : 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
usage(void)
{
	fprintf(stderr, "usage: ceremony-load --socket PATH --origin URL [--users N] "
	    "[--concurrency C] [--seconds S] [--register] [--user-prefix P]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "origin", required_argument, NULL, 'o' },
		{ "users", required_argument, NULL, 'u' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "register", no_argument, NULL, 'r' },
		{ "user-prefix", required_argument, NULL, 'p' },
		{ "interactive", no_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	static struct worker ws[MAX_THREADS];
	char line[128];
	int opt, interactive = 0, max_c;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sock_path = optarg; break;
		case 'o': origin = optarg; break;
		case 'u': n_users = atoi(optarg); break;
		case 'c': concurrency = atoi(optarg); break;
		case 't': seconds = atoi(optarg); break;
		case 'r': do_register = 1; break;
		case 'p': prefix = optarg; break;
		case 'i': interactive = 1; break;
		default: usage();
		}
	}
	if (sock_path == NULL || origin == NULL || n_users < 1 || n_users > MAX_USERS ||
	    concurrency < 1 || concurrency > MAX_THREADS || concurrency > n_users || seconds < 1)
		usage();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (int i = 0; i < n_users; i++) {
		snprintf(users[i].name, sizeof(users[i].name), "%s%d", prefix, i);
		if ((users[i].key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
		    RAND_bytes(users[i].cred_id, sizeof(users[i].cred_id)) != 1)
			die("key generation");
	}
	for (int k = 0; k < concurrency; k++) {
		ws[k].id = k;
		ws[k].curl = http_new(k, &ws[k].hdr);
	}
	if (!do_register)
		die("the load needs the keys: run with --register (passkeys are made each run)");
	for (int i = 0; i < n_users; i++) {
		if (ceremony(&ws[0], &users[i], 1) != 0) {
			fprintf(stderr, "ceremony-load: registering %s: %s\n", users[i].name,
			    ws[0].last_error);
			return 1;
		}
		users[i].ready = 1;
	}
	ws[0].errors = 0;
	if (!interactive)
		return run_load(ws, concurrency, seconds, 0);
	/*
	 * the driver interleaves runs against two servers: "run C S" lines;
	 * "run C S N" stops after N logins (a fixed amount of work, for profiles)
	 */
	printf("ready\n");
	fflush(stdout);
	max_c = concurrency;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		unsigned long limit = 0;
		int c, t;

		if (sscanf(line, "verify %d", &c) == 1 && c > 0) {
			verify_baseline(c);
		} else if (sscanf(line, "run %d %d %lu", &c, &t, &limit) < 2 || c < 1 ||
		    c > max_c || t < 1) {
			break;
		} else {
			run_load(ws, c, t, limit);
		}
		fflush(stdout);
	}
	return 0;
}
