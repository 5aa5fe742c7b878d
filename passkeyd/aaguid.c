/*
 * Authenticator names by AAGUID (aaguid.h).  Parsed once at start into a
 * sorted array: a lookup is a binary search, and a bad line stops the
 * daemon with its line number instead of being skipped quietly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aaguid.h"
#include "file.h"
#include "text.h"

struct aaguid_entry {
	unsigned char aaguid[16];
	uint32_t seq;			/* order added: the later one wins */
	char name[AAGUID_NAME_MAX + 1];
};

struct aaguid_table {
	struct aaguid_entry *e;		/* sorted by aaguid, one per aaguid */
	size_t n;
	uint32_t next_seq;
};

struct aaguid_table *
aaguid_table_new(void)
{
	return calloc(1, sizeof(struct aaguid_table));
}

void
aaguid_table_free(struct aaguid_table *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

void
aaguid_format(const unsigned char a[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[a[i] >> 4];
		out[o++] = hex[a[i] & 15];
	}
	out[o] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 36 characters of s as an AAGUID; -1 when they are not one. */
static int
parse_aaguid(const char *s, unsigned char out[16])
{
	size_t o = 0;

	for (size_t i = 0; i < 36; ) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			i++;
			continue;
		}
		if ((hi = hex_digit(s[i])) < 0 || (lo = hex_digit(s[i + 1])) < 0)
			return -1;
		out[o++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}

/* One line (len bytes, no newline) into *e; NULL, or why it is not one. */
static const char *
parse_line(const char *line, size_t len, struct aaguid_entry *e)
{
	size_t name_len;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len < 37 || line[36] != '\t')
		return "expected an AAGUID (36 characters), a tab and a name";
	if (parse_aaguid(line, e->aaguid) != 0)
		return "not an AAGUID (hex with dashes at 8, 13, 18 and 23)";
	name_len = len - 37;
	if (name_len == 0)
		return "no name after the tab";
	if (name_len > AAGUID_NAME_MAX)
		return "name longer than 64 bytes";
	memcpy(e->name, line + 37, name_len);
	e->name[name_len] = '\0';
	/* shown on terminals: no controls, no bidi tricks, valid UTF-8 */
	if (memchr(e->name, '\t', name_len) != NULL ||
	    !text_is_safe(e->name, 1, AAGUID_NAME_MAX))
		return "name is not printable text (controls, bidi marks or bad UTF-8)";
	return NULL;
}

static int
by_aaguid_then_seq(const void *a, const void *b)
{
	const struct aaguid_entry *x = a, *y = b;
	int c = memcmp(x->aaguid, y->aaguid, 16);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts, and keeps only the last-added entry of each AAGUID. */
static void
settle(struct aaguid_table *t)
{
	size_t o = 0;

	qsort(t->e, t->n, sizeof(*t->e), by_aaguid_then_seq);
	for (size_t i = 0; i < t->n; i++) {
		if (i + 1 < t->n && memcmp(t->e[i].aaguid, t->e[i + 1].aaguid, 16) == 0)
			continue;
		t->e[o++] = t->e[i];
	}
	t->n = o;
}

/* Lines of text: its newlines, and a last line without one. */
static size_t
count_lines(const char *text)
{
	size_t n = 0, len = strlen(text);

	for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	return n + (len > 0 && text[len - 1] != '\n');
}

int
aaguid_table_add_text(struct aaguid_table *t, const char *text, char *err, size_t errlen)
{
	size_t lines = count_lines(text), n0 = t->n, lineno = 0;
	struct aaguid_entry *grown;
	const char *p = text, *why;

	if (lines == 0)
		return 0;
	if (lines > AAGUID_MAX_LINES) {
		snprintf(err, errlen, "more than %d lines", AAGUID_MAX_LINES);
		return -1;
	}
	if ((grown = reallocarray(t->e, t->n + lines, sizeof(*t->e))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->e = grown;
	while (*p != '\0') {
		const char *end = strchr(p, '\n');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		lineno++;
		if (len > 0 && p[0] != '#' && !(len == 1 && p[0] == '\r')) {
			if ((why = parse_line(p, len, &t->e[t->n])) != NULL) {
				snprintf(err, errlen, "line %zu: %s", lineno, why);
				t->n = n0;	/* nothing of this text */
				return -1;
			}
			t->e[t->n++].seq = t->next_seq++;
		}
		p += len + (end != NULL);
	}
	settle(t);
	return 0;
}

struct aaguid_table *
aaguid_table_load(const char *path, char *err, size_t errlen)
{
	struct aaguid_table *t = aaguid_table_new();
	char why[200];
	char *text;

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (aaguid_table_add_text(t, aaguid_builtin_tsv, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "built-in authenticator names: %s", why);
		goto fail;
	}
	if (path == NULL)
		return t;
	if ((text = file_read_text(path, AAGUID_FILE_MAX, 1, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "aaguid_names: %s", why);
		goto fail;
	}
	if (aaguid_table_add_text(t, text, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "aaguid_names: %s: %s", path, why);
		free(text);
		goto fail;
	}
	free(text);
	return t;
fail:
	aaguid_table_free(t);
	return NULL;
}

const char *
aaguid_table_name(const struct aaguid_table *t, const unsigned char aaguid[16])
{
	size_t lo = 0, hi;

	if (t == NULL)
		return NULL;
	hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(aaguid, t->e[mid].aaguid, 16);

		if (c == 0)
			return t->e[mid].name;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t
aaguid_table_count(const struct aaguid_table *t)
{
	return t != NULL ? t->n : 0;
}
