#include "rp_der.h"

static bool
read_tag(struct rp_buf *b, struct rp_der *d)
{
	uint8_t id, c;

	if (!rp_buf_get_u8(b, &id))
		return false;
	d->cls = id & 0xc0;
	d->constructed = (id & 0x20) != 0;
	d->tag = id & 0x1f;
	if (d->tag != 0x1f)
		return true;
	d->tag = 0;
	do {	/* high-tag-number form: base-128, at most 4 bytes here */
		if (d->tag > (UINT32_MAX >> 7) || !rp_buf_get_u8(b, &c))
			return false;
		d->tag = (d->tag << 7) | (c & 0x7f);
	} while (c & 0x80);
	return true;
}

static bool
read_len(struct rp_buf *b, size_t *len)
{
	uint8_t c, n;

	if (!rp_buf_get_u8(b, &c))
		return false;
	if (c < 0x80) {
		*len = c;
		return true;
	}
	n = c & 0x7f;
	if (n == 0 || n > 4)	/* 0x80 is indefinite: not DER */
		return false;
	*len = 0;
	while (n-- > 0) {
		if (!rp_buf_get_u8(b, &c))
			return false;
		*len = (*len << 8) | c;
	}
	return true;
}

bool
rp_der_next(struct rp_buf *b, struct rp_der *out)
{
	size_t save = b->off, len;
	const uint8_t *p;

	if (!read_tag(b, out) || !read_len(b, &len) || !rp_buf_get_bytes(b, len, &p)) {
		b->off = save;
		return false;
	}
	rp_buf_init(&out->body, p, len);
	return true;
}
