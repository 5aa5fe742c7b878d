#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "strbuf.h"

void
strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t ncap;
	char *np;
	int n;

	for (;;) {
		if (b->failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, b->p != NULL ?
		    b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if (b->p != NULL && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		for (ncap = b->cap == 0 ? 4096 : b->cap * 2; ncap < b->len + (size_t)n + 1; )
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

char *
strbuf_take(struct strbuf *b, size_t *len)
{
	char *p = b->p;

	if (b->failed || p == NULL) {
		free(p);
		p = NULL;
	}
	if (len != NULL)
		*len = p != NULL ? b->len : 0;
	*b = (struct strbuf){ 0 };
	return p;
}
