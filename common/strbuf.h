/*
 * A growing text buffer for output built with printf formats (the fleet's
 * SQL, the metrics exposition): one place that sizes, grows and fails.
 * After an allocation fails every later append is ignored and `failed`
 * stays set, so a caller checks once, at the end.
 */
#ifndef COMMON_STRBUF_H
#define COMMON_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *p;	/* NUL-terminated once anything was appended */
	size_t len, cap;
	int failed;
};

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The text (the caller frees it) and its length, or NULL when an append failed. */
char *strbuf_take(struct strbuf *b, size_t *len);

#endif
