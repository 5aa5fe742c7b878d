/*
 * Authenticator names by AAGUID, for people (`passkeyctl list`): the
 * built-in table (data/aaguid-names.tsv, compiled in) and, over it, an
 * admin's own (config key `aaguid_names`, the same format).  A name is a
 * label, never an input to a decision: an AAGUID is whatever the
 * authenticator says unless attestation proves it.
 *
 * The format: one entry a line, the AAGUID (36 characters, hex with
 * dashes at 8, 13, 18 and 23, either case), one tab, the name (1 to
 * AAGUID_NAME_MAX bytes of text that is safe to print, common/text.h).
 * Empty lines and lines starting with '#' are skipped; a trailing CR is
 * ignored.  A later entry for the same AAGUID replaces an earlier one, in
 * one text and across texts added later.
 */
#ifndef PASSKEYD_AAGUID_H
#define PASSKEYD_AAGUID_H

#include <stddef.h>

#define AAGUID_NAME_MAX		64
#define AAGUID_MAX_LINES	10000	/* a text; the built-in one and a file */
#define AAGUID_FILE_MAX		(1024 * 1024)

struct aaguid_table;

struct aaguid_table *aaguid_table_new(void);
void aaguid_table_free(struct aaguid_table *t);

/*
 * Adds the entries of text (NUL-terminated, at most AAGUID_MAX_LINES
 * lines).  0, or -1 with "line N: reason" in err and nothing added.
 */
int aaguid_table_add_text(struct aaguid_table *t, const char *text, char *err,
    size_t errlen);
/* The built-in table and then the file at path, if any; NULL with err. */
struct aaguid_table *aaguid_table_load(const char *path, char *err, size_t errlen);

/* The name, or NULL (also for a NULL table). */
const char *aaguid_table_name(const struct aaguid_table *t, const unsigned char aaguid[16]);
size_t aaguid_table_count(const struct aaguid_table *t);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case. */
void aaguid_format(const unsigned char aaguid[16], char out[37]);

/* data/aaguid-names.tsv, compiled in (aaguid_builtin.c, generated). */
extern const char aaguid_builtin_tsv[];

#endif
