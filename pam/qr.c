#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "qr.h"

/* UTF-8 of the cells: upper half, lower half, both halves light. */
#define UPPER	"\xe2\x96\x80"	/* U+2580 ▀ */
#define LOWER	"\xe2\x96\x84"	/* U+2584 ▄ */
#define FULL	"\xe2\x96\x88"	/* U+2588 █ */

/*
 * Module (x, y) of the code with its quiet zone around it, size n.  Rows
 * past the bottom are the terminal's background, i.e. dark: the half
 * line under an odd number of rows stays blank.
 */
static bool
light(const QRcode *q, int n, int x, int y)
{
	if (y >= n)
		return false;
	x -= QR_QUIET;
	y -= QR_QUIET;
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return true;
	return (q->data[y * q->width + x] & 1) == 0;
}

static char *
draw(const QRcode *q, int n, int nlines)
{
	/* Each cell at most 3 bytes, plus a '\n' per line and the NUL. */
	char *s = malloc((size_t)nlines * ((size_t)n * 3 + 1) + 1), *p = s;

	if (s == NULL)
		return NULL;
	for (int line = 0; line < nlines; line++) {
		for (int x = 0; x < n; x++) {
			bool top = light(q, n, x, 2 * line);
			bool bottom = light(q, n, x, 2 * line + 1);
			const char *cell = top && bottom ? FULL : top ? UPPER :
			    bottom ? LOWER : " ";

			memcpy(p, cell, strlen(cell));
			p += strlen(cell);
		}
		*p++ = '\n';
	}
	*p = '\0';
	return s;
}

char *
qr_render(const char *text, int max_cols, int max_lines, int *cols, int *lines)
{
	/*
	 * M (15% recovery) when it fits, else L (7%): a screen photo is
	 * clean, size matters more.  Case-sensitive: the token is base64url.
	 */
	static const QRecLevel levels[] = { QR_ECLEVEL_M, QR_ECLEVEL_L };
	char *s;

	if (text == NULL || text[0] == '\0')
		return NULL;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		QRcode *q = QRcode_encodeString(text, 0, levels[i], QR_MODE_8, 1);
		int n, nlines;

		if (q == NULL)
			continue;
		n = q->width + 2 * QR_QUIET;
		nlines = (n + 1) / 2;
		if (n > max_cols || nlines > max_lines) {
			QRcode_free(q);
			continue;
		}
		s = draw(q, n, nlines);
		QRcode_free(q);
		if (s != NULL) {
			if (cols != NULL)
				*cols = n;
			if (lines != NULL)
				*lines = nlines;
		}
		return s;
	}
	return NULL;
}
