/*
 * What text shown to people may hold: user names, nicknames, addresses
 * and anything else a terminal or a log prints.  One rule for every
 * component, so that what the store accepts, the daemon sends and the
 * CLI prints agree: valid UTF-8 (shortest form, no surrogates), and no
 * character that moves the cursor, drives the terminal or reorders what
 * follows it.  Refused: C0 controls and DEL, C1 controls (U+0080..U+009F,
 * e.g. U+009B CSI), the bidirectional marks, embeddings, overrides and
 * isolates (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), the
 * line and paragraph separators (U+2028, U+2029) and the BOM (U+FEFF).
 */
#ifndef COMMON_TEXT_H
#define COMMON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes one UTF-8 character of s (n bytes available).  Returns its
 * length (1..4) with the code point in *cp, or 0 when the bytes are not
 * a valid shortest-form encoding.
 */
size_t text_utf8_next(const char *s, size_t n, uint32_t *cp);

/* 1 when the code point is one of the refused characters above. */
bool text_char_unsafe(uint32_t cp);

/* s is min..max bytes of valid UTF-8 with no refused character. */
bool text_is_safe(const char *s, size_t min, size_t max);

/* s is 1..max bytes of [A-Za-z0-9.-]: the characters of a host name to show. */
bool text_hostname_chars(const char *s, size_t max);

/*
 * Copies s into out (outlen > 0, always NUL-terminated) with every
 * refused character and every invalid byte replaced by '?'.  Cut at a
 * character boundary when out is too small.  Returns out.
 */
char *text_sanitize(const char *s, char *out, size_t outlen);

#endif
