/*
 * live.h - the live channel: WebSocket connections to visitors' browsers,
 * over which interventions are pushed the moment they are decided.
 *
 * One thread runs an epoll loop over every upgraded socket; framing is
 * libwslay's event API. Other threads never touch a connection: live_push()
 * queues the message for the live thread (and returns at once with the
 * number of connections the session has open), so the engine never waits on
 * a socket, and a slow client only fills its own bounded queue (past the
 * bound it is closed with 1013 "try again later"; others are unaffected).
 *
 * Keep-alive: the server pings every ping_interval_ms and closes a
 * connection that has sent nothing (not even a pong) for idle_timeout_ms.
 * Close codes: 1000 normal, 1001 server going away, 1008 a message that is
 * not the protocol's, 1009 a message too big, 1013 the client is too slow.
 *
 * live/ knows sockets, not HTTP: the HTTP layer does the handshake, then
 * hands the socket over with live_attach() and a close function (MHD's
 * upgraded sockets must be closed through MHD).
 */
#ifndef JOURNEY_LIVE_LIVE_H
#define JOURNEY_LIVE_LIVE_H

#include <stddef.h>
#include <stdint.h>

struct live;

struct live_config {
    int64_t ping_interval_ms;   /* 20 s */
    int64_t idle_timeout_ms;    /* 60 s */
    size_t max_queued_messages; /* per connection, 64 */
    size_t max_queued_bytes;    /* per connection, 256 KB */
    size_t max_message_bytes;   /* from the browser, 16 KB */
};

void live_config_defaults(struct live_config *c);

/* Called on the live thread for each text message a browser sends. */
typedef void (*live_message_fn)(void *ctx, int64_t project_id, const char *session_id,
                                const char *text, size_t len);
/* Closes an attached socket (the HTTP layer's way). Called once per socket,
 * on the live thread. */
typedef void (*live_close_fn)(void *close_ctx);

struct live *live_new(const struct live_config *cfg, live_message_fn on_message, void *ctx);
/* Closes every connection (1001) and stops the thread. NULL-safe. */
void live_free(struct live *l);

/* Takes over fd, an upgraded WebSocket of (project, session). extra holds
 * bytes the HTTP layer read past the handshake; first[] are messages to
 * send at once (hello, pending interventions). Everything is copied.
 * Returns 0, or -1 if the live thread is gone (then close_fn is called). */
int live_attach(struct live *l, int fd, int64_t project_id, const char *session_id,
                const char *extra, size_t extra_len, const char *const *first, int n_first,
                live_close_fn close_fn, void *close_ctx);

/* Queues json for every open connection of (project, session); returns how
 * many connections there were. Thread-safe; never blocks on I/O. */
int live_push(struct live *l, int64_t project_id, const char *session_id, const char *json,
              size_t len);

size_t live_connections(struct live *l);

#endif
