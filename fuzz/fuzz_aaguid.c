/*
 * The authenticator-names parser: aaguid_table_add_text() (passkeyd/
 * aaguid.c) on an admin's aaguid_names file, over the built-in table.
 * The input is the file's text (cut at the first NUL, as the file reader
 * refuses NUL bytes anyway).
 *
 * Checks, besides the sanitizers:
 *   - success (inputs up to FUZZ_CHECKED_BYTES): every line that parses on
 *     its own (an AAGUID, a tab, a name) is found afterwards, under the
 *     name of the last such line for that AAGUID; every name found is safe
 *     text of 1..64 bytes;
 *   - refusal: the reason names a line (or the line limit), and the table
 *     is exactly what it was before: the built-in entries, unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aaguid.h"
#include "text.h"

/* The line-by-line check is quadratic: done for inputs up to this size. */
#define FUZZ_CHECKED_BYTES	8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
bad(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_aaguid: %s: %s\n", what, detail);
	abort();
}

/* The line's AAGUID when the line alone parses; the name's place in *name. */
static int
line_entry(const char *line, size_t len, unsigned char aaguid[16], char *name,
    size_t namelen)
{
	struct aaguid_table *one = aaguid_table_new();
	char *copy = strndup(line, len), err[200];
	const char *found;
	int ok = 0;

	if (one == NULL || copy == NULL)
		abort();
	if (aaguid_table_add_text(one, copy, err, sizeof(err)) == 0 &&
	    aaguid_table_count(one) == 1) {
		/* the table's one entry: the AAGUID of the line, from its first 36 bytes */
		for (size_t i = 0, o = 0; i < 36; i++) {
			static const char hex[] = "0123456789abcdef";
			char c = line[i] | 0x20;
			const char *h;

			if (line[i] == '-')
				continue;
			if ((h = strchr(hex, c)) == NULL)
				bad("an accepted line has a non-hex AAGUID", copy);
			aaguid[o / 2] = (unsigned char)(o % 2 ? (aaguid[o / 2] | (h - hex)) :
			    (h - hex) << 4);
			o++;
		}
		if ((found = aaguid_table_name(one, aaguid)) == NULL)
			bad("an accepted line's AAGUID is not found", copy);
		snprintf(name, namelen, "%s", found);
		ok = 1;
	}
	aaguid_table_free(one);
	free(copy);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size > AAGUID_FILE_MAX ? AAGUID_FILE_MAX : size);
	char err[200] = "", before[200];
	struct aaguid_table *t;
	size_t n0;

	if (text == NULL || (t = aaguid_table_load(NULL, err, sizeof(err))) == NULL)
		abort();
	n0 = aaguid_table_count(t);
	if (aaguid_table_add_text(t, text, err, sizeof(err)) != 0) {
		if (strncmp(err, "line ", 5) != 0 && strncmp(err, "more than ", 10) != 0 &&
		    strcmp(err, "out of memory") != 0)
			bad("a refusal without a line", err);
		if (aaguid_table_count(t) != n0)
			bad("a refused text changed the table", err);
		snprintf(before, sizeof(before), "%s", err);
	} else if (strlen(text) <= FUZZ_CHECKED_BYTES) {
		/* walk the lines: each that parses alone is found, the last one wins */
		for (const char *p = text; *p != '\0'; ) {
			const char *end = strchr(p, '\n');
			size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
			unsigned char aaguid[16];
			char name[AAGUID_NAME_MAX + 1];
			const char *got;

			if (len > 0 && p[0] != '#' && line_entry(p, len, aaguid, name, sizeof(name))) {
				if ((got = aaguid_table_name(t, aaguid)) == NULL)
					bad("an accepted line's AAGUID is missing", name);
				if (!text_is_safe(got, 1, AAGUID_NAME_MAX))
					bad("an unsafe name was kept", got);
				/* the same AAGUID later in the text wins: compare at the end */
				const char *later = end != NULL ? end + 1 : p + len;
				int overridden = 0;

				for (const char *q = later; *q != '\0'; ) {
					const char *qe = strchr(q, '\n');
					size_t ql = qe != NULL ? (size_t)(qe - q) : strlen(q);
					unsigned char a2[16];
					char n2[AAGUID_NAME_MAX + 1];

					if (ql > 0 && q[0] != '#' && line_entry(q, ql, a2, n2, sizeof(n2)) &&
					    memcmp(a2, aaguid, 16) == 0)
						overridden = 1;
					q += ql + (qe != NULL);
				}
				if (!overridden && strcmp(got, name) != 0)
					bad("the last line for an AAGUID does not win", got);
			}
			p += len + (end != NULL);
		}
	}
	aaguid_table_free(t);
	free(text);
	return 0;
}
