#include "rp_buf.h"

/* An empty view still points somewhere, so offset arithmetic is defined. */
static const uint8_t rp_buf_empty[1];

void
rp_buf_init(struct rp_buf *b, const void *ptr, size_t len)
{
	b->ptr = ptr != NULL ? ptr : rp_buf_empty;
	b->len = ptr != NULL ? len : 0;
	b->off = 0;
}

size_t
rp_buf_left(const struct rp_buf *b)
{
	return b->len - b->off;
}

const uint8_t *
rp_buf_cur(const struct rp_buf *b)
{
	return b->ptr + b->off;
}

bool
rp_buf_get_bytes(struct rp_buf *b, size_t n, const uint8_t **out)
{
	if (n > rp_buf_left(b))
		return false;
	if (out != NULL)
		*out = b->ptr + b->off;
	b->off += n;
	return true;
}

bool
rp_buf_skip(struct rp_buf *b, size_t n)
{
	return rp_buf_get_bytes(b, n, NULL);
}

static bool
get_be(struct rp_buf *b, size_t n, uint64_t *v)
{
	const uint8_t *p;

	if (!rp_buf_get_bytes(b, n, &p))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = (*v << 8) | p[i];
	return true;
}

bool
rp_buf_get_u8(struct rp_buf *b, uint8_t *v)
{
	uint64_t x;

	if (!get_be(b, 1, &x))
		return false;
	*v = (uint8_t)x;
	return true;
}

bool
rp_buf_get_u16(struct rp_buf *b, uint16_t *v)
{
	uint64_t x;

	if (!get_be(b, 2, &x))
		return false;
	*v = (uint16_t)x;
	return true;
}

bool
rp_buf_get_u32(struct rp_buf *b, uint32_t *v)
{
	uint64_t x;

	if (!get_be(b, 4, &x))
		return false;
	*v = (uint32_t)x;
	return true;
}

bool
rp_buf_get_u64(struct rp_buf *b, uint64_t *v)
{
	return get_be(b, 8, v);
}

bool
rp_buf_get_tpm2b(struct rp_buf *b, const uint8_t **out, size_t *n)
{
	size_t save = b->off;
	uint16_t len;

	if (!rp_buf_get_u16(b, &len) || !rp_buf_get_bytes(b, len, out)) {
		b->off = save;
		return false;
	}
	*n = len;
	return true;
}
