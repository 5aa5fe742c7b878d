/*
 * The one reader for small text files the programs trust only so far:
 * the config, TLS certificates and keys, trust anchors.  Bounded in size,
 * a regular file, no NUL byte inside; symlinks are followed (certbot's
 * live/ names are links).
 */
#ifndef COMMON_FILE_H
#define COMMON_FILE_H

#include <stddef.h>

/*
 * The whole file as a NUL-terminated string (the caller frees it), or
 * NULL with a one-line reason naming the file in err.  An empty file is
 * an error unless allow_empty.
 */
char *file_read_text(const char *path, size_t max, int allow_empty, char *err,
    size_t errlen);

#endif
