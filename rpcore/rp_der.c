#include "rp_der.h"

/* DER (X.690 §8.1.2.4, §10.1): tags below 31 use the short form, and a
 * long-form tag number has no leading 0x80 octet. */
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
	if (!rp_buf_get_u8(b, &c) || c == 0x80)
		return false;
	for (;;) {	/* base-128, at most 4 octets' worth here */
		d->tag = (d->tag << 7) | (c & 0x7f);
		if (!(c & 0x80))
			break;
		if (d->tag > (UINT32_MAX >> 7) || !rp_buf_get_u8(b, &c))
			return false;
	}
	return d->tag >= 31;
}

/* DER lengths are minimal: the long form only above 127, without leading
 * zero octets. */
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
	for (uint8_t i = 0; i < n; i++) {
		if (!rp_buf_get_u8(b, &c) || (i == 0 && c == 0))
			return false;
		*len = (*len << 8) | c;
	}
	return *len >= 0x80;
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

bool
rp_der_is_universal_constructed(const struct rp_der *d, uint32_t tag)
{
	return d->cls == RP_DER_CLASS_UNIVERSAL && d->constructed && d->tag == tag;
}

bool
rp_der_is_universal_primitive(const struct rp_der *d, uint32_t tag)
{
	return d->cls == RP_DER_CLASS_UNIVERSAL && !d->constructed && d->tag == tag;
}

bool
rp_der_explicit_inner(struct rp_der *tagged, struct rp_der *inner)
{
	return tagged->constructed && rp_der_next(&tagged->body, inner) &&
	    rp_buf_left(&tagged->body) == 0;
}
