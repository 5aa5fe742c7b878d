/*
 * A QR code as terminal text: Unicode half blocks, two module rows per
 * line, so a version 4 code with its quiet zone takes 37 columns and 19
 * lines and a whole login prompt fits an 80x24 terminal.
 *
 * Polarity: a light module is drawn (the terminal's foreground), a dark
 * one is left blank (its background), as `qrencode -t UTF8` does.  That
 * is a correct code on the usual light-on-dark terminal and an inverted
 * one elsewhere, which phone scanners read as well.  Colours would fix
 * it, but ssh prints prompts through a filter that escapes ESC.
 */
#ifndef PK_QR_H
#define PK_QR_H

/* Light modules around the code.  The standard asks for 4; 2 scans fine
 * from a screen and saves two lines. */
#define QR_QUIET	2

/*
 * Renders text, or returns NULL when it cannot be encoded or does not fit
 * in max_cols columns and max_lines lines.  Every line, the last
 * included, ends in '\n'.  Sets *cols and *lines when they are not NULL.
 * Free the result with free().
 */
char *qr_render(const char *text, int max_cols, int max_lines, int *cols, int *lines);

#endif /* PK_QR_H */
