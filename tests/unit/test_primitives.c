/*
 * Unit tests for the core's pure helpers: strict base64url, the CBOR
 * profile scanner, the DER reader and the bounded byte reader.  These are
 * what every untrusted byte passes through first, so each rule their
 * headers state gets a case here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rp_b64url.h"
#include "rp_buf.h"
#include "rp_cbor.h"
#include "rp_der.h"
#include "rp_err.h"

#define assert_verdict(got, want) do {					\
	int got_ = (got), want_ = (want);				\
	if (got_ != want_)						\
		print_error("verdict %s, want %s\n",			\
		    rp_err_code(got_), rp_err_code(want_));		\
	assert_int_equal(got_, want_);					\
} while (0)

/* Hex (spaces ignored) to bytes; returns the length. */
static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = hex; *p != '\0'; ) {
		unsigned int v;

		if (*p == ' ') {
			p++;
			continue;
		}
		assert_true(n < cap);
		assert_int_equal(sscanf(p, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		p += 2;
	}
	return n;
}

/* ================================================================== */
/* rp_b64url: RFC 4648 §5, one encoding per value                     */
/* ================================================================== */

static int
b64_dec(const char *s, size_t len, uint8_t *out, size_t *outlen)
{
	uint8_t buf[256];
	size_t n = 0;
	int r;

	assert_true(rp_b64url_decoded_max(len) <= sizeof(buf));
	r = rp_b64url_decode(s, len, buf, &n);
	if (r == RP_OK && out != NULL) {
		memcpy(out, buf, n);
		*outlen = n;
	}
	return r;
}

static int
b64_dec_str(const char *s)
{
	return b64_dec(s, strlen(s), NULL, NULL);
}

static void
b64_decode_known(void **state)
{
	static const struct {
		const char *in;
		const char *hex;
	} t[] = {
		{ "", "" },
		{ "Zg", "66" },
		{ "Zm8", "666f" },
		{ "Zm9v", "666f6f" },
		{ "Zm9vYg", "666f6f62" },
		{ "Zm9vYmE", "666f6f6261" },
		{ "Zm9vYmFy", "666f6f626172" },
		{ "Zg==", "66" },		/* complete, correct padding */
		{ "Zm8=", "666f" },
		{ "-_8", "fbff" },		/* the URL alphabet's 62 and 63 */
		{ "_w", "ff" },
		{ "AAAA", "000000" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t got[64], want[64];
		size_t glen = 0, wlen = unhex(t[i].hex, want, sizeof(want));

		assert_verdict(b64_dec(t[i].in, strlen(t[i].in), got, &glen), RP_OK);
		assert_int_equal(glen, wlen);
		assert_memory_equal(got, want, wlen);
	}
}

/* Anything outside A-Z a-z 0-9 - _ : standard base64's + and /,
 * whitespace, NUL, '.', and bytes with the high bit set. */
static void
b64_decode_bad_chars(void **state)
{
	static const char bad[] = { '+', '/', ' ', '\n', '\t', '\r', '.', '\0',
	    '*', '~', '\\', '"', (char)0x80, (char)0xc3, (char)0xff };

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		for (size_t pos = 0; pos < 8; pos++) {
			char s[9] = "Zm9vYmFy";

			s[pos] = bad[i];
			assert_verdict(b64_dec(s, 8, NULL, NULL), RP_ERR_BAD_BASE64URL);
		}
	}
	/* The whole byte range, in a position where '=' cannot be padding:
	 * exactly the 64 alphabet bytes decode. */
	for (int c = 0; c < 256; c++) {
		char s[4] = { 'A', 'A', (char)c, 'A' };
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_';

		assert_verdict(b64_dec(s, 4, NULL, NULL), ok ? RP_OK : RP_ERR_BAD_BASE64URL);
	}
}

/* '=' only at the end, only to a multiple of four, at most two. */
static void
b64_decode_padding(void **state)
{
	static const char *bad[] = {
		"=", "==", "===", "====",
		"Zg=", "Zg===", "Zg====",	/* one pad short, one and two too many */
		"Zm8==", "Zm9v=", "Zm9v==", "Zm9v====",
		"Z===",				/* three pads */
		"Zg==Zg==",			/* padding in the middle */
		"Zm=v", "=Zm9",
		"Zm9vY===",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (b64_dec_str(bad[i]) != RP_ERR_BAD_BASE64URL)
			fail_msg("\"%s\" decoded", bad[i]);
	}
	assert_verdict(b64_dec_str("Zm9vYg=="), RP_OK);
	assert_verdict(b64_dec_str("Zm9vYmE="), RP_OK);
}

/* A length of 1 mod 4 carries 6 bits: no whole byte. */
static void
b64_decode_length_1_mod_4(void **state)
{
	static const char *bad[] = { "A", "Z", "Zm9vY", "Zm9vYmFyZ", "AAAAA" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_verdict(b64_dec_str(bad[i]), RP_ERR_BAD_BASE64URL);
}

/* The bits after the last whole byte must be zero: "Zh" and "Zg" would
 * otherwise both decode to "f". */
static void
b64_decode_leftover_bits(void **state)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	(void)state;
	for (int v = 0; v < 64; v++) {
		char two[3] = { 'Z', alpha[v], '\0' };
		char three[4] = { 'Z', 'm', alpha[v], '\0' };

		/* two characters: 4 leftover bits; three: 2 leftover bits */
		assert_verdict(b64_dec_str(two), (v & 0x0f) ? RP_ERR_BAD_BASE64URL : RP_OK);
		assert_verdict(b64_dec_str(three), (v & 0x03) ? RP_ERR_BAD_BASE64URL : RP_OK);
	}
	assert_verdict(b64_dec_str("Zh=="), RP_ERR_BAD_BASE64URL);
	assert_verdict(b64_dec_str("Zm9="), RP_ERR_BAD_BASE64URL);
}

static void
b64_roundtrip(void **state)
{
	uint8_t in[96], out[128];
	char enc[160];
	uint32_t x = 0x12345678;

	(void)state;
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t outlen = 0, elen;

		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (uint8_t)(x >> 16);
		}
		assert_true(rp_b64url_encoded_size(n) <= sizeof(enc));
		rp_b64url_encode(in, n, enc);
		elen = strlen(enc);
		assert_int_equal(elen, (n * 4 + 2) / 3);	/* unpadded */
		assert_true(elen + 1 <= rp_b64url_encoded_size(n));
		assert_null(strpbrk(enc, "+/="));
		assert_true(rp_b64url_decoded_max(elen) >= n);
		assert_verdict(rp_b64url_decode(enc, elen, out, &outlen), RP_OK);
		assert_int_equal(outlen, n);
		if (n > 0)
			assert_memory_equal(in, out, n);
	}
}

static void
b64_encode_alphabet(void **state)
{
	static const uint8_t all_ones[] = { 0xfb, 0xff, 0xbf };
	char enc[8];
	char *a;

	(void)state;
	rp_b64url_encode(all_ones, sizeof(all_ones), enc);
	assert_string_equal(enc, "-_-_");
	rp_b64url_encode(all_ones, 1, enc);
	assert_string_equal(enc, "-w");
	assert_non_null(a = rp_b64url_encode_alloc(all_ones, 2));
	assert_string_equal(a, "-_8");
	free(a);
}

static void
b64_decode_alloc(void **state)
{
	uint8_t *p = (uint8_t *)"sentinel";
	size_t n = 99;

	(void)state;
	/* Empty input: a fresh, non-NULL buffer of length 0. */
	assert_verdict(rp_b64url_decode_alloc("", 0, &p, &n), RP_OK);
	assert_non_null(p);
	assert_int_equal(n, 0);
	free(p);
	/* Failure: NULL and 0, nothing to free. */
	assert_verdict(rp_b64url_decode_alloc("Zh", 2, &p, &n), RP_ERR_BAD_BASE64URL);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_verdict(rp_b64url_decode_alloc("Zm9v", 4, &p, &n), RP_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "foo", 3);
	free(p);
}

/* ================================================================== */
/* rp_cbor_scan: RFC 8949 under the WebAuthn profile                  */
/* ================================================================== */

static int
scan_hex(const char *hex, size_t *item_len)
{
	uint8_t buf[4096];
	size_t n = unhex(hex, buf, sizeof(buf)), dummy;

	return rp_cbor_scan(buf, n, item_len != NULL ? item_len : &dummy);
}

static void
cbor_scan_valid(void **state)
{
	static const struct {
		const char *hex;
		size_t len;
	} t[] = {
		{ "00", 1 }, { "17", 1 }, { "1818", 2 }, { "190100", 3 },
		{ "1a00010000", 5 }, { "1b0000000100000000", 9 },
		{ "20", 1 }, { "390100", 3 },		/* -257 */
		{ "40", 1 }, { "43010203", 4 }, { "60", 1 }, { "6161", 2 },
		{ "80", 1 }, { "820102", 3 }, { "a0", 1 }, { "a10102", 3 },
		{ "f4", 1 }, { "f5", 1 }, { "f6", 1 }, { "f7", 1 },
		{ "f93c00", 3 },
		{ "63 e282ac", 4 }, { "64 f09f9491", 5 },	/* UTF-8 text */ { "fa47c35000", 5 },
		{ "fb3ff199999999999a", 9 },
		/* a COSE ES256 key's shape */
		{ "a5 0102 0326 2001 2158 20 0000000000000000000000000000000000000000000000000000000000000000"
		  " 2258 20 0000000000000000000000000000000000000000000000000000000000000000", 77 },
		/* only the first item is scanned */
		{ "01 02", 1 }, { "a0 ff", 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = 0;

		if (scan_hex(t[i].hex, &len) != RP_OK)
			fail_msg("%s: %s", t[i].hex, rp_err_code(scan_hex(t[i].hex, &len)));
		assert_int_equal(len, t[i].len);
	}
}

/* Indefinite length, for each of the four major types that have it. */
static void
cbor_scan_indefinite(void **state)
{
	static const char *t[] = {
		"5f 4101 ff",		/* bytes */
		"7f 6161 ff",		/* text */
		"9f 01 ff",		/* array */
		"bf 01 02 ff",		/* map */
		"5f ff", "7f ff", "9f ff", "bf ff",
		"82 01 9f ff",		/* nested in a definite array */
		"a1 01 bf ff",		/* as a map value */
		"a1 01 5f 4100 ff",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_verdict(scan_hex(t[i], NULL), RP_ERR_CBOR_INDEFINITE_LENGTH);
}

/* Additional information 31 where it has no meaning, and reserved 28-30. */
static void
cbor_scan_reserved_ai(void **state)
{
	uint8_t b[12] = { 0 };
	size_t len;

	(void)state;
	for (int major = 0; major < 8; major++) {
		for (int ai = 28; ai <= 30; ai++) {
			b[0] = (uint8_t)(major << 5 | ai);
			assert_verdict(rp_cbor_scan(b, sizeof(b), &len), RP_ERR_CBOR_MALFORMED);
		}
	}
	assert_verdict(scan_hex("1f", NULL), RP_ERR_CBOR_MALFORMED);	/* uint */
	assert_verdict(scan_hex("3f", NULL), RP_ERR_CBOR_MALFORMED);	/* nint */
	assert_verdict(scan_hex("df 00", NULL), RP_ERR_CBOR_MALFORMED);	/* tag */
}

/* The break code outside any indefinite-length item. */
static void
cbor_scan_break_outside(void **state)
{
	(void)state;
	assert_verdict(scan_hex("ff", NULL), RP_ERR_CBOR_MALFORMED);
	assert_verdict(scan_hex("82 01 ff", NULL), RP_ERR_CBOR_MALFORMED);
	assert_verdict(scan_hex("a1 01 ff", NULL), RP_ERR_CBOR_MALFORMED);
	assert_verdict(scan_hex("a1 ff 01", NULL), RP_ERR_CBOR_MALFORMED);
	assert_verdict(scan_hex("c1 ff", NULL), RP_ERR_CBOR_MALFORMED);
}

/*
 * Two-byte simple values below 32 are not well formed, and every simple
 * value but false, true, null and undefined is unassigned (RFC 8949 §3.3):
 * libcbor refuses those, so the scanner must too (found by fuzz_authdata).
 */
static void
cbor_scan_simple_values(void **state)
{
	uint8_t b[2] = { 0xf8, 0 };
	size_t len;

	(void)state;
	for (int v = 0; v < 256; v++) {
		b[1] = (uint8_t)v;
		assert_verdict(rp_cbor_scan(b, 2, &len), RP_ERR_CBOR_MALFORMED);
	}
	for (uint8_t one = 0xe0; one <= 0xf3; one++)
		assert_verdict(rp_cbor_scan(&one, 1, &len), RP_ERR_CBOR_MALFORMED);
	for (uint8_t one = 0xf4; one <= 0xf7; one++) {
		assert_verdict(rp_cbor_scan(&one, 1, &len), RP_OK);
		assert_int_equal(len, 1);
	}
}

/*
 * No tags at all: CTAP2 canonical CBOR forbids them, and libcbor 0.8
 * refuses tags 6..20 (found by fuzz_authdata: a COSE key behind tag 8).
 */
static void
cbor_scan_tags_refused(void **state)
{
	static const char *tagged[] = { "c0 60", "c1 00", "c8 a0", "d4 00",
	    "d8 18 40", "d9 d9f7 00", "81 c1 00", "a1 01 c1 00" };

	(void)state;
	for (size_t i = 0; i < sizeof(tagged) / sizeof(tagged[0]); i++)
		assert_verdict(scan_hex(tagged[i], NULL), RP_ERR_CBOR_MALFORMED);
}

/* Text strings must be UTF-8 (RFC 3629), as libcbor demands (fuzz_authdata). */
static void
cbor_scan_text_not_utf8(void **state)
{
	static const char *bad[] = {
		"61 80",		/* lone continuation byte */
		"62 c0 80",		/* overlong NUL */
		"63 e0 80 80",		/* overlong */
		"63 ed a0 80",		/* surrogate U+D800 */
		"64 f4 90 80 80",	/* above U+10FFFF */
		"62 e2 82",		/* cut short inside the string */
		"61 ff",
		"a1 6b 6372746563740329934bf8 32",	/* the fuzzer's map key */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_verdict(scan_hex(bad[i], NULL), RP_ERR_CBOR_MALFORMED);
}

/* Every strict prefix of a well-formed item is truncated. */
static void
cbor_scan_truncated_everywhere(void **state)
{
	static const char *items[] = {
		/* every major type and head width, nested */
		"a7 01 1b 0000000100000000"
		"   20 3a 00010000"
		"   02 43 616263"
		"   03 78 18 000102030405060708090a0b0c0d0e0f1011121314151617"
		"   04 83 1a 5f5e1000 f9 3c00 a1 61 78 80"
		"   05 fb 3ff199999999999a"
		"   63 6b6579 f5",
		/* a COSE ES256 key */
		"a5 0102 0326 2001 2158 20 0101010101010101010101010101010101010101010101010101010101010101"
		"   2258 20 0202020202020202020202020202020202020202020202020202020202020202",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		uint8_t buf[512];
		size_t n = unhex(items[i], buf, sizeof(buf)), len = 0;

		assert_verdict(rp_cbor_scan(buf, n, &len), RP_OK);
		assert_int_equal(len, n);
		for (size_t cut = 0; cut < n; cut++) {
			/* a copy of exactly cut bytes, so ASan sees any over-read */
			uint8_t *p = malloc(cut > 0 ? cut : 1);
			int r;

			assert_non_null(p);
			memcpy(p, buf, cut);
			r = rp_cbor_scan(cut > 0 ? p : NULL, cut, &len);
			free(p);
			if (r != RP_ERR_CBOR_TRUNCATED)
				fail_msg("item %zu cut at %zu/%zu: %s", i, cut, n, rp_err_code(r));
		}
	}
}

/* Lengths that promise more than the input holds. */
static void
cbor_scan_length_lies(void **state)
{
	(void)state;
	assert_verdict(scan_hex("5b ffffffffffffffff 00", NULL), RP_ERR_CBOR_TRUNCATED);
	assert_verdict(scan_hex("7b 7fffffffffffffff 00", NULL), RP_ERR_CBOR_TRUNCATED);
	assert_verdict(scan_hex("9b 0000000100000000 00", NULL), RP_ERR_CBOR_TRUNCATED);
	assert_verdict(scan_hex("9a ffffffff 00 00", NULL), RP_ERR_CBOR_TRUNCATED);
	assert_verdict(scan_hex("58 05 0102", NULL), RP_ERR_CBOR_TRUNCATED);
}

static void
cbor_scan_duplicate_keys(void **state)
{
	(void)state;
	assert_verdict(scan_hex("a2 01 00 01 00", NULL), RP_ERR_CBOR_DUPLICATE_KEY);
	assert_verdict(scan_hex("a2 01 00 01 01", NULL), RP_ERR_CBOR_DUPLICATE_KEY);
	assert_verdict(scan_hex("a2 20 00 20 00", NULL), RP_ERR_CBOR_DUPLICATE_KEY);
	assert_verdict(scan_hex("a2 6161 00 6161 01", NULL), RP_ERR_CBOR_DUPLICATE_KEY);
	assert_verdict(scan_hex("a2 4161 00 4161 01", NULL), RP_ERR_CBOR_DUPLICATE_KEY);
	assert_verdict(scan_hex("a3 01 00 02 00 01 00", NULL), RP_ERR_CBOR_DUPLICATE_KEY);
	assert_verdict(scan_hex("a1 01 a2 03 00 03 00", NULL), RP_ERR_CBOR_DUPLICATE_KEY);
	/* Distinct: 1 and -2, bytes "a" and text "a", equal keys in two maps. */
	assert_verdict(scan_hex("a2 01 00 21 00", NULL), RP_OK);
	assert_verdict(scan_hex("a2 4161 00 6161 00", NULL), RP_OK);
	assert_verdict(scan_hex("a2 01 a1 01 00 02 a1 01 00", NULL), RP_OK);
	assert_verdict(scan_hex("82 a1 01 00 a1 01 00", NULL), RP_OK);
	/* A key equal to a value is no duplicate. */
	assert_verdict(scan_hex("a2 01 02 02 01", NULL), RP_OK);
}

/* Keys in non-shortest form would make equal keys differ in bytes. */
static void
cbor_scan_non_shortest_keys(void **state)
{
	static const char *bad[] = {
		"a1 1801 00", "a1 1817 00", "a1 190001 00", "a1 1900ff 00",
		"a1 1a00000001 00", "a1 1a0000ffff 00", "a1 1b0000000000000001 00",
		"a1 1b00000000ffffffff 00",
		"a1 3800 00", "a1 390000 00",		/* -1 */
		"a1 7801 61 00", "a1 5801 61 00",	/* one-char strings */
		"a2 01 00 1801 00",			/* would duplicate 1 */
	};
	static const char *good[] = {
		"a1 1818 00", "a1 190100 00", "a1 1a00010000 00",
		"a1 1b0000000100000000 00", "a1 3818 00", "a1 7818 616161616161616161616161616161616161616161616161 00",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (scan_hex(bad[i], NULL) != RP_ERR_CBOR_MALFORMED)
			fail_msg("%s: %s", bad[i], rp_err_code(scan_hex(bad[i], NULL)));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (scan_hex(good[i], NULL) != RP_OK)
			fail_msg("%s: %s", good[i], rp_err_code(scan_hex(good[i], NULL)));
}

/* Keys are integers or strings only. */
static void
cbor_scan_bad_key_types(void **state)
{
	static const char *bad[] = { "a1 80 00", "a1 a0 00", "a1 c1 00 00",
	    "a1 f5 00", "a1 f6 00", "a1 f93c00 00" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_verdict(scan_hex(bad[i], NULL), RP_ERR_CBOR_MALFORMED);
}

/* At most 16 nested arrays and maps. */
static void
cbor_scan_nesting(void **state)
{
	static const uint8_t kinds[][2] = {
		{ 0x81, 0 },		/* array of one */
		{ 0xa1, 0x01 },		/* map {1: ...} */
	};

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		for (size_t depth = 1; depth <= 20; depth++) {
			uint8_t buf[64];
			size_t n = 0, len = 0;

			for (size_t i = 0; i < depth; i++) {
				buf[n++] = kinds[k][0];
				if (kinds[k][1] != 0)
					buf[n++] = kinds[k][1];
			}
			buf[n++] = 0x00;
			assert_verdict(rp_cbor_scan(buf, n, &len),
			    depth <= RP_CBOR_MAX_DEPTH ? RP_OK : RP_ERR_CBOR_TOO_DEEP);
			if (depth <= RP_CBOR_MAX_DEPTH)
				assert_int_equal(len, n);
		}
	}
	/* Mixed: 8 arrays and 9 maps make 17. */
	{
		uint8_t buf[64];
		size_t n = 0, len;

		for (int i = 0; i < 8; i++)
			buf[n++] = 0x81;
		for (int i = 0; i < 9; i++)
			buf[n++] = 0xa1, buf[n++] = 0x01;
		buf[n++] = 0x00;
		assert_verdict(rp_cbor_scan(buf, n, &len), RP_ERR_CBOR_TOO_DEEP);
	}
}

/* At most 64 pairs in a map. */
static void
cbor_scan_map_pairs(void **state)
{
	(void)state;
	for (size_t pairs = 60; pairs <= 70; pairs++) {
		uint8_t buf[512];
		size_t n = 0, len = 0;

		buf[n++] = 0xb8;
		buf[n++] = (uint8_t)pairs;
		for (size_t i = 0; i < pairs; i++) {
			if (i < 24) {
				buf[n++] = (uint8_t)i;
			} else {
				buf[n++] = 0x18;
				buf[n++] = (uint8_t)i;
			}
			buf[n++] = 0xf6;
		}
		assert_verdict(rp_cbor_scan(buf, n, &len),
		    pairs <= RP_CBOR_MAX_MAP_PAIRS ? RP_OK : RP_ERR_CBOR_TOO_DEEP);
	}
	/* 64 pairs is fine in an array of such maps, each map counted alone. */
	{
		static uint8_t buf[2048];
		size_t n = 0, len = 0;

		buf[n++] = 0x82;
		for (int m = 0; m < 2; m++) {
			buf[n++] = 0xb8;
			buf[n++] = 64;
			for (int i = 0; i < 64; i++) {
				if (i >= 24)
					buf[n++] = 0x18;
				buf[n++] = (uint8_t)i;
				buf[n++] = 0x00;
			}
		}
		assert_verdict(rp_cbor_scan(buf, n, &len), RP_OK);
		assert_int_equal(len, n);
	}
}

static void
cbor_load_exact(void **state)
{
	uint8_t buf[16];
	size_t n = unhex("a1 01 02 00", buf, sizeof(buf)), used = 0;
	cbor_item_t *item = NULL;

	(void)state;
	assert_verdict(rp_cbor_load(buf, n, &item), RP_ERR_CBOR_TRAILING_BYTES);
	assert_null(item);
	assert_verdict(rp_cbor_load_prefix(buf, n, &item, &used), RP_OK);
	assert_int_equal(used, 3);
	assert_non_null(item);
	cbor_decref(&item);
	assert_verdict(rp_cbor_load(buf, 3, &item), RP_OK);
	assert_true(cbor_isa_map(item));
	cbor_decref(&item);
	assert_verdict(rp_cbor_load(buf, 2, &item), RP_ERR_CBOR_TRUNCATED);
	assert_null(item);
	assert_verdict(rp_cbor_load(buf, 0, &item), RP_ERR_CBOR_TRUNCATED);
	assert_null(item);
}

/* ================================================================== */
/* rp_der_next: one DER TLV, bounded                                  */
/* ================================================================== */

static void
der_primitive(void **state)
{
	static const uint8_t b[] = { 0x02, 0x01, 0x05, 0x04, 0x00 };
	struct rp_buf buf;
	struct rp_der d;

	(void)state;
	rp_buf_init(&buf, b, sizeof(b));
	assert_true(rp_der_next(&buf, &d));
	assert_int_equal(d.cls, RP_DER_CLASS_UNIVERSAL);
	assert_false(d.constructed);
	assert_int_equal(d.tag, 2);
	assert_int_equal(rp_buf_left(&d.body), 1);
	assert_int_equal(*rp_buf_cur(&d.body), 0x05);
	assert_int_equal(buf.off, 3);
	/* the next TLV: an empty OCTET STRING */
	assert_true(rp_der_next(&buf, &d));
	assert_int_equal(d.tag, 4);
	assert_int_equal(rp_buf_left(&d.body), 0);
	assert_int_equal(rp_buf_left(&buf), 0);
	assert_false(rp_der_next(&buf, &d));
}

static void
der_constructed(void **state)
{
	static const uint8_t b[] = { 0x30, 0x06, 0x02, 0x01, 0x05, 0xa1, 0x01, 0x00 };
	struct rp_buf buf;
	struct rp_der seq, d;

	(void)state;
	rp_buf_init(&buf, b, sizeof(b));
	assert_true(rp_der_next(&buf, &seq));
	assert_true(seq.constructed);
	assert_int_equal(seq.tag, 16);
	assert_true(rp_der_next(&seq.body, &d));
	assert_int_equal(d.tag, 2);
	assert_true(rp_der_next(&seq.body, &d));
	assert_int_equal(d.cls, RP_DER_CLASS_CONTEXT);
	assert_true(d.constructed);
	assert_int_equal(d.tag, 1);
	assert_int_equal(rp_buf_left(&seq.body), 0);
}

/* High tag numbers, as Android's KeyDescription uses ([600], [702]). */
static void
der_high_tag(void **state)
{
	static const uint8_t b600[] = { 0xbf, 0x84, 0x58, 0x02, 0x05, 0x00 };
	static const uint8_t b702[] = { 0xbf, 0x85, 0x3e, 0x03, 0x02, 0x01, 0x00 };
	static const uint8_t max[] = { 0x9f, 0x8f, 0xff, 0xff, 0xff, 0x7f, 0x00 };
	static const uint8_t over[] = { 0x9f, 0x90, 0x80, 0x80, 0x80, 0x00, 0x00 };
	static const uint8_t cut[] = { 0x9f, 0x84 };
	struct rp_buf buf;
	struct rp_der d;

	(void)state;
	rp_buf_init(&buf, b600, sizeof(b600));
	assert_true(rp_der_next(&buf, &d));
	assert_int_equal(d.cls, RP_DER_CLASS_CONTEXT);
	assert_true(d.constructed);
	assert_int_equal(d.tag, 600);
	assert_int_equal(rp_buf_left(&d.body), 2);
	rp_buf_init(&buf, b702, sizeof(b702));
	assert_true(rp_der_next(&buf, &d));
	assert_int_equal(d.tag, 702);
	rp_buf_init(&buf, max, sizeof(max));
	assert_true(rp_der_next(&buf, &d));
	assert_int_equal(d.tag, UINT32_MAX);
	/* more than 32 bits of tag number */
	rp_buf_init(&buf, over, sizeof(over));
	assert_false(rp_der_next(&buf, &d));
	assert_int_equal(buf.off, 0);
	rp_buf_init(&buf, cut, sizeof(cut));
	assert_false(rp_der_next(&buf, &d));
	assert_int_equal(buf.off, 0);
}

static void
der_long_length(void **state)
{
	uint8_t b[4 + 300];
	struct rp_buf buf;
	struct rp_der d;

	(void)state;
	memset(b, 0xee, sizeof(b));
	b[0] = 0x04, b[1] = 0x81, b[2] = 0x80;
	rp_buf_init(&buf, b, 3 + 128);
	assert_true(rp_der_next(&buf, &d));
	assert_int_equal(rp_buf_left(&d.body), 128);
	assert_ptr_equal(rp_buf_cur(&d.body), b + 3);
	b[1] = 0x82, b[2] = 0x01, b[3] = 0x2c;	/* 300 */
	rp_buf_init(&buf, b, sizeof(b));
	assert_true(rp_der_next(&buf, &d));
	assert_int_equal(rp_buf_left(&d.body), 300);
	assert_int_equal(rp_buf_left(&buf), 0);
}

/* Rejections leave the reader where it was. */
static void
der_rejects(void **state)
{
	static const struct {
		const char *hex;
		const char *why;
	} t[] = {
		{ "", "empty" },
		{ "30", "no length" },
		{ "30 80 02 01 05 00 00", "indefinite length" },
		{ "04 85 00 00 00 00 01 00", "five length octets" },
		{ "04 ff", "0xff length" },
		{ "04 05 01 02", "body overruns" },
		{ "04 81", "long length cut" },
		{ "04 82 01", "long length cut" },
		{ "04 84 ff ff ff ff 00", "4 GiB body" },
		{ "1f", "high tag cut" },
		{ "1f 80", "high tag cut" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t b[16];
		size_t n = unhex(t[i].hex, b, sizeof(b));
		struct rp_buf buf;
		struct rp_der d;

		rp_buf_init(&buf, b, n);
		if (rp_der_next(&buf, &d))
			fail_msg("%s (%s) accepted", t[i].hex, t[i].why);
		assert_int_equal(buf.off, 0);
	}
}

/* Every strict prefix of a nested TLV is refused. */
static void
der_truncated_everywhere(void **state)
{
	uint8_t b[3 + 130];
	struct rp_der d;

	(void)state;
	b[0] = 0x30, b[1] = 0x81, b[2] = 130;
	b[3] = 0x04, b[4] = 0x81, b[5] = 127;
	memset(b + 6, 0x5a, 127);
	for (size_t cut = 0; cut < sizeof(b); cut++) {
		uint8_t *p = malloc(cut > 0 ? cut : 1);
		struct rp_buf buf;
		bool ok;

		assert_non_null(p);
		memcpy(p, b, cut);
		rp_buf_init(&buf, p, cut);
		ok = rp_der_next(&buf, &d);
		free(p);
		if (ok)
			fail_msg("prefix of %zu bytes accepted", cut);
	}
}

/*
 * Regression: rp_der_next() once accepted BER that DER forbids (X.690
 * §10.1: lengths in the fewest octets; §8.1.2.4: tag numbers below 31 in
 * the low-tag form, no leading 0x80 octet in a high tag number), so
 * non-canonical Android KeyDescription or Apple nonce contents passed.
 */
static void
der_rejects_non_minimal(void **state)
{
	static const struct {
		const char *hex;
		const char *why;
	} t[] = {
		{ "04 81 01 00", "length 1 in long form" },
		{ "04 82 00 01 00", "length with a leading zero octet" },
		{ "04 81 7f", "length 127 in long form" },
		{ "1f 04 00", "tag 4 in high-tag form" },
		{ "1f 80 81 58 00", "high tag with a leading 0x80" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t b[200];
		size_t n = unhex(t[i].hex, b, sizeof(b));
		struct rp_buf buf;
		struct rp_der d;

		if (i == 2) {		/* give the 127-byte body */
			memset(b + n, 0, 127);
			n += 127;
		}
		rp_buf_init(&buf, b, n);
		if (rp_der_next(&buf, &d))
			fail_msg("%s (%s) accepted", t[i].hex, t[i].why);
		assert_int_equal(buf.off, 0);
	}
}

/*
 * The type checks of rp_der.h.  Each matches class, number and form
 * together, so the same number in another class, or in the other form,
 * passes neither; the caller picks the one its type's DER form is
 * (SEQUENCE: constructed, INTEGER: primitive).  An [n] EXPLICIT holds
 * one value and nothing after it.
 */
static void
der_type_forms(void **state)
{
	static const struct {
		const char *hex;
		uint32_t tag;
		bool constructed_ok;	/* rp_der_is_universal_constructed */
		bool primitive_ok;	/* rp_der_is_universal_primitive */
	} t[] = {
		{ "30 00", 16, true, false },		/* SEQUENCE */
		{ "10 00", 16, false, true },		/* primitive 16: not a SEQUENCE */
		{ "b0 00", 16, false, false },		/* [16] context */
		{ "31 00", 17, true, false },		/* SET OF */
		{ "b1 00", 17, false, false },		/* [17] context */
		{ "02 01 00", 2, false, true },		/* INTEGER */
		{ "22 01 00", 2, true, false },		/* constructed: not an INTEGER */
		{ "82 01 00", 2, false, false },	/* [2] context */
		{ "0a 01 00", 2, false, false },	/* ENUMERATED is not INTEGER */
		{ "04 00", 4, false, true },		/* OCTET STRING */
		{ "24 00", 4, true, false },		/* constructed: not DER's OCTET STRING */
		{ "84 00", 4, false, false },		/* [4] context */
		{ "44 00", 4, false, false },		/* [APPLICATION 4] */
	};
	static const struct {
		const char *hex;
		bool ok;
	} x[] = {
		{ "a1 03 02 01 05", true },
		{ "81 03 02 01 05", false },		/* primitive */
		{ "a1 06 02 01 05 02 01 06", false },	/* a second value */
		{ "a1 00", false },			/* no value */
		{ "a1 02 02 05", false },		/* a broken value */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t b[8];
		size_t n = unhex(t[i].hex, b, sizeof(b));
		struct rp_buf buf;
		struct rp_der d;

		rp_buf_init(&buf, b, n);
		assert_true(rp_der_next(&buf, &d));
		if (rp_der_is_universal_constructed(&d, t[i].tag) != t[i].constructed_ok ||
		    rp_der_is_universal_primitive(&d, t[i].tag) != t[i].primitive_ok)
			fail_msg("%s as type %u", t[i].hex, (unsigned)t[i].tag);
	}
	for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++) {
		uint8_t b[16];
		size_t n = unhex(x[i].hex, b, sizeof(b));
		struct rp_buf buf;
		struct rp_der tagged, inner;

		rp_buf_init(&buf, b, n);
		assert_true(rp_der_next(&buf, &tagged));
		if (rp_der_explicit_inner(&tagged, &inner) != x[i].ok)
			fail_msg("%s: explicit inner %s", x[i].hex, x[i].ok ? "refused" : "taken");
		if (x[i].ok) {
			assert_int_equal(inner.tag, 2);
			assert_int_equal(*rp_buf_cur(&inner.body), 0x05);
		}
	}
}

/* ================================================================== */
/* rp_buf: the bounded reader                                          */
/* ================================================================== */

static void
buf_null(void **state)
{
	struct rp_buf b;
	uint8_t v;
	const uint8_t *p;

	(void)state;
	rp_buf_init(&b, NULL, 10);
	assert_int_equal(rp_buf_left(&b), 0);
	assert_false(rp_buf_get_u8(&b, &v));
	assert_true(rp_buf_get_bytes(&b, 0, &p));
	assert_false(rp_buf_skip(&b, 1));
}

static void
buf_big_endian(void **state)
{
	static const uint8_t d[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff };
	struct rp_buf b;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	(void)state;
	rp_buf_init(&b, d, sizeof(d));
	assert_true(rp_buf_get_u8(&b, &u8));
	assert_int_equal(u8, 0x01);
	assert_true(rp_buf_get_u16(&b, &u16));
	assert_int_equal(u16, 0x0203);
	assert_true(rp_buf_get_u32(&b, &u32));
	assert_int_equal(u32, 0x04050607);
	assert_true(rp_buf_get_u64(&b, &u64));
	assert_true(u64 == 0x08090a0b0c0d0e0fULL);
	assert_ptr_equal(rp_buf_cur(&b), d + 15);
	assert_true(rp_buf_get_u8(&b, &u8));
	assert_int_equal(u8, 0xff);
	assert_int_equal(rp_buf_left(&b), 0);
}

/* A short read fails and consumes nothing. */
static void
buf_short_reads(void **state)
{
	static const uint8_t d[] = { 0xaa, 0xbb, 0xcc };
	struct rp_buf b;
	uint16_t u16;
	uint32_t u32 = 0x11111111;
	uint64_t u64;
	const uint8_t *p = NULL;

	(void)state;
	rp_buf_init(&b, d, sizeof(d));
	assert_false(rp_buf_get_u32(&b, &u32));
	assert_int_equal(u32, 0x11111111);
	assert_false(rp_buf_get_u64(&b, &u64));
	assert_false(rp_buf_get_bytes(&b, 4, &p));
	assert_null(p);
	assert_false(rp_buf_get_bytes(&b, SIZE_MAX, &p));
	assert_false(rp_buf_skip(&b, 4));
	assert_int_equal(b.off, 0);
	assert_true(rp_buf_get_u16(&b, &u16));
	assert_int_equal(u16, 0xaabb);
	assert_false(rp_buf_get_u16(&b, &u16));
	assert_int_equal(b.off, 2);
	assert_true(rp_buf_get_bytes(&b, 1, &p));
	assert_ptr_equal(p, d + 2);
	assert_true(rp_buf_get_bytes(&b, 0, &p));
	assert_false(rp_buf_skip(&b, 1));
	assert_true(rp_buf_skip(&b, 0));
}

static void
buf_tpm2b(void **state)
{
	static const uint8_t ok[] = { 0x00, 0x02, 0xaa, 0xbb, 0xcc };
	static const uint8_t empty[] = { 0x00, 0x00 };
	static const uint8_t over[] = { 0x00, 0x05, 0xaa };
	static const uint8_t half[] = { 0x00 };
	struct rp_buf b;
	const uint8_t *p;
	size_t n = 99;

	(void)state;
	rp_buf_init(&b, ok, sizeof(ok));
	assert_true(rp_buf_get_tpm2b(&b, &p, &n));
	assert_int_equal(n, 2);
	assert_ptr_equal(p, ok + 2);
	assert_int_equal(rp_buf_left(&b), 1);
	rp_buf_init(&b, empty, sizeof(empty));
	assert_true(rp_buf_get_tpm2b(&b, &p, &n));
	assert_int_equal(n, 0);
	/* the length is read, the body is short: the offset is restored */
	rp_buf_init(&b, over, sizeof(over));
	assert_false(rp_buf_get_tpm2b(&b, &p, &n));
	assert_int_equal(b.off, 0);
	rp_buf_init(&b, half, sizeof(half));
	assert_false(rp_buf_get_tpm2b(&b, &p, &n));
	assert_int_equal(b.off, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(b64_decode_known),
		cmocka_unit_test(b64_decode_bad_chars),
		cmocka_unit_test(b64_decode_padding),
		cmocka_unit_test(b64_decode_length_1_mod_4),
		cmocka_unit_test(b64_decode_leftover_bits),
		cmocka_unit_test(b64_roundtrip),
		cmocka_unit_test(b64_encode_alphabet),
		cmocka_unit_test(b64_decode_alloc),
		cmocka_unit_test(cbor_scan_valid),
		cmocka_unit_test(cbor_scan_indefinite),
		cmocka_unit_test(cbor_scan_reserved_ai),
		cmocka_unit_test(cbor_scan_break_outside),
		cmocka_unit_test(cbor_scan_simple_values),
		cmocka_unit_test(cbor_scan_text_not_utf8),
		cmocka_unit_test(cbor_scan_tags_refused),
		cmocka_unit_test(cbor_scan_truncated_everywhere),
		cmocka_unit_test(cbor_scan_length_lies),
		cmocka_unit_test(cbor_scan_duplicate_keys),
		cmocka_unit_test(cbor_scan_non_shortest_keys),
		cmocka_unit_test(cbor_scan_bad_key_types),
		cmocka_unit_test(cbor_scan_nesting),
		cmocka_unit_test(cbor_scan_map_pairs),
		cmocka_unit_test(cbor_load_exact),
		cmocka_unit_test(der_primitive),
		cmocka_unit_test(der_constructed),
		cmocka_unit_test(der_high_tag),
		cmocka_unit_test(der_long_length),
		cmocka_unit_test(der_rejects),
		cmocka_unit_test(der_truncated_everywhere),
		cmocka_unit_test(der_rejects_non_minimal),
		cmocka_unit_test(der_type_forms),
		cmocka_unit_test(buf_null),
		cmocka_unit_test(buf_big_endian),
		cmocka_unit_test(buf_short_reads),
		cmocka_unit_test(buf_tpm2b),
	};

	/* e.g. CMOCKA_TEST_FILTER='att_*' to run one group alone */
	if (getenv("CMOCKA_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("CMOCKA_TEST_FILTER"));
	if (getenv("CMOCKA_SKIP_FILTER") != NULL)
		cmocka_set_skip_filter(getenv("CMOCKA_SKIP_FILTER"));
	return cmocka_run_group_tests_name("primitives", tests, NULL, NULL);
}
