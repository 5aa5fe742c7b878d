#include <string.h>

#include "rp_buf.h"
#include "rp_cbor.h"
#include "rp_err.h"

enum { MT_UINT, MT_NINT, MT_BYTES, MT_TEXT, MT_ARRAY, MT_MAP, MT_TAG, MT_SIMPLE };

struct key_range {
	size_t off;
	size_t len;
};

struct frame {
	uint64_t left;		/* items still to read in this container */
	bool is_map;
	size_t nkeys;
	uint64_t items_read;
	struct key_range keys[RP_CBOR_MAX_MAP_PAIRS];
};

struct head {
	uint8_t major;
	uint8_t ai;
	uint64_t arg;
	bool shortest;
};

static int
read_head(struct rp_buf *b, struct head *h)
{
	uint8_t ib, u8;
	uint16_t u16;
	uint32_t u32;

	if (!rp_buf_get_u8(b, &ib))
		return RP_ERR_CBOR_TRUNCATED;
	h->major = ib >> 5;
	h->ai = ib & 0x1f;
	h->shortest = true;
	if (h->ai < 24) {
		h->arg = h->ai;
	} else if (h->ai == 24) {
		if (!rp_buf_get_u8(b, &u8))
			return RP_ERR_CBOR_TRUNCATED;
		h->arg = u8;
		h->shortest = u8 >= 24;
	} else if (h->ai == 25) {
		if (!rp_buf_get_u16(b, &u16))
			return RP_ERR_CBOR_TRUNCATED;
		h->arg = u16;
		h->shortest = u16 > UINT8_MAX;
	} else if (h->ai == 26) {
		if (!rp_buf_get_u32(b, &u32))
			return RP_ERR_CBOR_TRUNCATED;
		h->arg = u32;
		h->shortest = u32 > UINT16_MAX;
	} else if (h->ai == 27) {
		if (!rp_buf_get_u64(b, &h->arg))
			return RP_ERR_CBOR_TRUNCATED;
		h->shortest = h->arg > UINT32_MAX;
	} else if (h->ai == 31) {
		/* Break code or indefinite length: both outside our profile. */
		if (h->major == MT_BYTES || h->major == MT_TEXT ||
		    h->major == MT_ARRAY || h->major == MT_MAP)
			return RP_ERR_CBOR_INDEFINITE_LENGTH;
		return RP_ERR_CBOR_MALFORMED;
	} else {
		return RP_ERR_CBOR_MALFORMED;	/* 28..30 are reserved */
	}
	return RP_OK;
}

/*
 * RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
 * libcbor refuses text strings that are not UTF-8; so must the scanner.
 */
static bool
utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (k > n - i - 1)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* Checks a just-read map key and that no earlier key of the map equals it. */
static int
check_key(const struct rp_buf *b, struct frame *f, size_t start, const struct head *h)
{
	struct key_range k = { start, b->off - start };

	if (h->major > MT_TEXT || !h->shortest)
		return RP_ERR_CBOR_MALFORMED;
	for (size_t i = 0; i < f->nkeys; i++)
		if (f->keys[i].len == k.len &&
		    memcmp(b->ptr + f->keys[i].off, b->ptr + k.off, k.len) == 0)
			return RP_ERR_CBOR_DUPLICATE_KEY;
	f->keys[f->nkeys++] = k;
	return RP_OK;
}

int
rp_cbor_scan(const uint8_t *p, size_t len, size_t *item_len)
{
	struct frame stack[RP_CBOR_MAX_DEPTH + 1];
	struct rp_buf b;
	size_t depth = 0;
	int r;

	rp_buf_init(&b, p, len);
	memset(&stack[0], 0, sizeof(stack[0]));
	stack[0].left = 1;

	for (;;) {
		struct frame *f;
		struct head h;
		size_t start = b.off;
		bool is_key;

		while (depth > 0 && stack[depth].left == 0)
			depth--;
		if (depth == 0 && stack[0].left == 0)
			break;
		f = &stack[depth];
		is_key = f->is_map && f->items_read % 2 == 0;
		f->left--;
		f->items_read++;

		if ((r = read_head(&b, &h)) != RP_OK)
			return r;
		if (h.major == MT_BYTES || h.major == MT_TEXT) {
			const uint8_t *str;

			if (!rp_buf_get_bytes(&b, h.arg > SIZE_MAX ? SIZE_MAX : (size_t)h.arg, &str))
				return RP_ERR_CBOR_TRUNCATED;
			if (h.major == MT_TEXT && !utf8_valid(str, (size_t)h.arg))
				return RP_ERR_CBOR_MALFORMED;
		} else if (h.major == MT_TAG) {
			/* CTAP2 canonical CBOR has no tags, WebAuthn uses none,
			 * and libcbor 0.8 refuses tags 6..20: refuse them all. */
			return RP_ERR_CBOR_MALFORMED;
		} else if (h.major == MT_SIMPLE && (h.ai < 20 || h.ai == 24)) {
			/* Only false, true, null, undefined and floats are
			 * assigned (RFC 8949 §3.3); libcbor refuses the rest. */
			return RP_ERR_CBOR_MALFORMED;
		}
		/* Floats carry their payload in the head already read. */
		if (is_key && (r = check_key(&b, f, start, &h)) != RP_OK)
			return r;
		if (h.major == MT_ARRAY || h.major == MT_MAP) {
			uint64_t n = h.arg;

			if (depth == RP_CBOR_MAX_DEPTH)
				return RP_ERR_CBOR_TOO_DEEP;
			if (h.major == MT_MAP && n > RP_CBOR_MAX_MAP_PAIRS)
				return RP_ERR_CBOR_TOO_DEEP;
			/* Each item takes at least one byte: fail early on lies. */
			if (n > rp_buf_left(&b))
				return RP_ERR_CBOR_TRUNCATED;
			f = &stack[++depth];
			f->left = h.major == MT_MAP ? 2 * n : n;
			f->is_map = h.major == MT_MAP;
			f->nkeys = 0;
			f->items_read = 0;
		}
	}
	*item_len = b.off;
	return RP_OK;
}

int
rp_cbor_load_prefix(const uint8_t *p, size_t len, cbor_item_t **item, size_t *used)
{
	struct cbor_load_result res;
	size_t n;
	int r;

	*item = NULL;
	if ((r = rp_cbor_scan(p, len, &n)) != RP_OK)
		return r;
	if ((*item = cbor_load(p, n, &res)) == NULL)
		return res.error.code == CBOR_ERR_MEMERROR ?
		    RP_ERR_NO_MEMORY : RP_ERR_CBOR_MALFORMED;
	if (res.read != n) {
		cbor_decref(item);
		return RP_ERR_CBOR_MALFORMED;
	}
	*used = n;
	return RP_OK;
}

int
rp_cbor_load(const uint8_t *p, size_t len, cbor_item_t **item)
{
	size_t used;
	int r;

	if ((r = rp_cbor_load_prefix(p, len, item, &used)) != RP_OK)
		return r;
	if (used != len) {
		cbor_decref(item);
		return RP_ERR_CBOR_TRAILING_BYTES;
	}
	return RP_OK;
}

cbor_item_t *
rp_cbor_map_get_str(const cbor_item_t *map, const char *key)
{
	struct cbor_pair *pairs;
	size_t n;

	if (map == NULL || !cbor_isa_map(map))
		return NULL;
	pairs = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (size_t i = 0; i < n; i++)
		if (rp_cbor_is_text(pairs[i].key, key))
			return pairs[i].value;
	return NULL;
}

cbor_item_t *
rp_cbor_map_get_int(const cbor_item_t *map, int64_t key)
{
	struct cbor_pair *pairs;
	size_t n;
	int64_t k;

	if (map == NULL || !cbor_isa_map(map))
		return NULL;
	pairs = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (size_t i = 0; i < n; i++)
		if (rp_cbor_get_int(pairs[i].key, &k) && k == key)
			return pairs[i].value;
	return NULL;
}

bool
rp_cbor_get_int(const cbor_item_t *item, int64_t *v)
{
	uint64_t u;

	if (item == NULL || !(cbor_isa_uint(item) || cbor_isa_negint(item)))
		return false;
	if ((u = cbor_get_int(item)) > INT64_MAX)
		return false;
	*v = cbor_isa_uint(item) ? (int64_t)u : -1 - (int64_t)u;
	return true;
}

bool
rp_cbor_get_bytes(const cbor_item_t *item, const uint8_t **p, size_t *len)
{
	if (item == NULL || !cbor_isa_bytestring(item) ||
	    !cbor_bytestring_is_definite(item))
		return false;
	*p = cbor_bytestring_handle(item);
	*len = cbor_bytestring_length(item);
	return true;
}

bool
rp_cbor_is_text(const cbor_item_t *item, const char *s)
{
	size_t n = strlen(s);

	return item != NULL && cbor_isa_string(item) &&
	    cbor_string_is_definite(item) && cbor_string_length(item) == n &&
	    (n == 0 || memcmp(cbor_string_handle(item), s, n) == 0);
}
