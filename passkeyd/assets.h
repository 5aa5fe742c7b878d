/* The web pages and files compiled into passkeyd (see embed_assets.py). */
#ifndef PASSKEYD_ASSETS_H
#define PASSKEYD_ASSETS_H

#include <stddef.h>

struct asset {
	const char *name;		/* "login.html", "passkey.js", ... */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};

extern const struct asset assets[];	/* ends with a NULL name */

#endif
