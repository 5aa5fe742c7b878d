#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include "rp_internal.h"

rp_policy_t *
rp_policy_new(void)
{
	rp_policy_t *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->algs[0] = RP_COSE_ES256;
	p->algs[1] = RP_COSE_EDDSA;
	p->algs[2] = RP_COSE_RS256;
	p->nalgs = 3;
	p->accepted_attestation = RP_ATTESTATION_ALL;
	p->reject_sign_count_regression = true;
	return p;
}

void
rp_policy_free(rp_policy_t **pp)
{
	rp_policy_t *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	free(p->rp_id);
	for (size_t i = 0; i < p->norigins; i++)
		free(p->origins[i]);
	X509_STORE_free(p->anchors);
	free(p);
	*pp = NULL;
}

int
rp_policy_set_rp_id(rp_policy_t *p, const char *rp_id)
{
	char *s;

	if (p == NULL || rp_id == NULL || *rp_id == '\0')
		return RP_ERR_INVALID_ARGUMENT;
	if ((s = strdup(rp_id)) == NULL)
		return RP_ERR_NO_MEMORY;
	free(p->rp_id);
	p->rp_id = s;
	SHA256((const unsigned char *)s, strlen(s), p->rp_id_hash);
	return RP_OK;
}

int
rp_policy_add_origin(rp_policy_t *p, const char *origin)
{
	if (p == NULL || origin == NULL || *origin == '\0' ||
	    p->norigins == RP_MAX_ORIGINS)
		return RP_ERR_INVALID_ARGUMENT;
	if ((p->origins[p->norigins] = strdup(origin)) == NULL)
		return RP_ERR_NO_MEMORY;
	p->norigins++;
	return RP_OK;
}

int
rp_policy_set_require_uv(rp_policy_t *p, bool on)
{
	if (p == NULL)
		return RP_ERR_INVALID_ARGUMENT;
	p->require_uv = on;
	return RP_OK;
}

int
rp_policy_set_allowed_algs(rp_policy_t *p, const int *algs, size_t n)
{
	if (p == NULL || algs == NULL || n == 0 ||
	    n > sizeof(p->algs) / sizeof(p->algs[0]))
		return RP_ERR_INVALID_ARGUMENT;
	for (size_t i = 0; i < n; i++)
		if (!rp_alg_known(algs[i]))
			return RP_ERR_ALG_UNSUPPORTED;
	memcpy(p->algs, algs, n * sizeof(*algs));
	p->nalgs = n;
	return RP_OK;
}

bool
rp_policy_alg_allowed(const rp_policy_t *p, int alg)
{
	for (size_t i = 0; i < p->nalgs; i++)
		if (p->algs[i] == alg)
			return true;
	return false;
}

int
rp_policy_add_trust_anchor_pem(rp_policy_t *p, const char *pem, size_t len)
{
	BIO *bio;
	X509 *x;
	size_t added = 0;
	int r = RP_OK;

	if (p == NULL || pem == NULL || len == 0 || len > INT32_MAX)
		return RP_ERR_INVALID_ARGUMENT;
	if (p->anchors == NULL && (p->anchors = X509_STORE_new()) == NULL)
		return RP_ERR_NO_MEMORY;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return RP_ERR_NO_MEMORY;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(p->anchors, x) != 1)
			r = RP_ERR_TRUST_ANCHOR_INVALID;
		X509_free(x);
		added++;
	}
	ERR_clear_error();
	BIO_free(bio);
	if (added == 0)
		return RP_ERR_TRUST_ANCHOR_INVALID;
	p->nanchors += added;
	return r;
}

int
rp_policy_set_time(rp_policy_t *p, time_t t)
{
	if (p == NULL)
		return RP_ERR_INVALID_ARGUMENT;
	p->time = t;
	p->time_set = true;
	return RP_OK;
}

int
rp_policy_set_accepted_attestation(rp_policy_t *p, int mask)
{
	if (p == NULL || mask == 0 || (mask & ~RP_ATTESTATION_ALL) != 0)
		return RP_ERR_INVALID_ARGUMENT;
	p->accepted_attestation = mask;
	return RP_OK;
}

int
rp_policy_set_reject_sign_count_regression(rp_policy_t *p, bool on)
{
	if (p == NULL)
		return RP_ERR_INVALID_ARGUMENT;
	p->reject_sign_count_regression = on;
	return RP_OK;
}

/* A policy without an RP ID or an origin would accept nothing useful. */
bool
rp_policy_ready(const rp_policy_t *p)
{
	return p != NULL && p->rp_id != NULL && p->norigins > 0;
}

const char *
rp_attestation_name(int attestation)
{
	switch (attestation) {
	case RP_ATTESTATION_NONE:
		return "none";
	case RP_ATTESTATION_SELF:
		return "self";
	case RP_ATTESTATION_TRUSTED:
		return "trusted";
	case RP_ATTESTATION_UNTRUSTED:
		return "untrusted";
	default:
		return "unknown";
	}
}
