/*
 * The control socket (control/PROTOCOL.md): JSON lines over a unix socket,
 * the caller known by SO_PEERCRED.
 */
#ifndef PASSKEYD_CONTROL_H
#define PASSKEYD_CONTROL_H

#include <jansson.h>
#include <poll.h>

#include "passkeyd.h"

#define CONTROL_MAX_CLIENTS 256
#define CONTROL_LINE_MAX 8192
#define CONTROL_IDLE_SECONDS 30

struct control_server;

/* Binds the socket (mode 0666: the daemon authorizes per request). */
struct control_server *control_start(struct passkeyd *d, char *err, size_t errlen);
/* Appends the descriptors to poll; returns how many were added. */
size_t control_fill_poll(struct control_server *s, struct pollfd *fds, size_t max);
/* Handles what poll reported for the descriptors it filled. */
void control_handle(struct control_server *s, const struct pollfd *fds, size_t n);
void control_stop(struct control_server *s);

/* {"ok":false,"error":code,"message":...} for a stable code (PROTOCOL.md). */
json_t *control_refusal(const char *code);

#endif
