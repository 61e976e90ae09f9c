/*
 * live.c - the live channel's thread: epoll over upgraded sockets, wslay for
 * the WebSocket framing, a command queue (attach, push) fed by other threads
 * through an eventfd. See live.h.
 *
 *   other threads                      live thread
 *   live_attach() ─┐                   ┌─ epoll_wait(sockets + eventfd, 1 s)
 *   live_push()  ──┼─> commands ─> eventfd ─> run commands
 *                  │   (mutex)         ├─ socket readable: wslay_event_recv
 *   registry ◄─────┘ counts (mutex)    ├─ socket writable: wslay_event_send
 *                                      └─ each second: pings, idle timeouts
 *
 * The registry maps (project, session) to its connections. Only the live
 * thread changes it; live_push() reads the count under the lock to answer
 * "how many connections took it" without waiting for the send.
 */
#include "live/live.h"

#include "common/log.h"
#include "common/metrics.h"
#include "common/timefmt.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>
#include <xxhash.h>

struct conn {
    struct live *live;
    int fd;
    int64_t project_id;
    char *session_id;
    uint64_t key;
    wslay_event_context_ptr ws;
    char *extra;
    size_t extra_len, extra_off;
    uint64_t last_recv_ns, last_ping_ns;
    uint32_t epoll_events;
    live_close_fn close_fn;
    void *close_ctx;
    struct conn *next_in_entry;
    struct conn *prev_all, *next_all;
    bool dead;
    bool closing_slow; /* a 1013 close is queued: counted once, nothing more queued */
};

struct entry {
    struct entry *next;
    uint64_t key;
    int64_t project_id;
    char *session_id;
    struct conn *conns;
    int n;
};

enum cmd_type { CMD_ATTACH, CMD_PUSH };

struct cmd {
    struct cmd *next;
    enum cmd_type type;
    struct conn *conn; /* attach */
    char **first;
    int n_first;
    int64_t project_id; /* push */
    char *session_id;
    char *json;
    size_t len;
};

struct live {
    struct live_config cfg;
    live_message_fn on_message;
    void *ctx;
    int epfd, evfd;
    pthread_t thread;
    bool running;
    pthread_mutex_t cmd_lock;
    struct cmd *cmd_head, *cmd_tail;
    bool stop;
    pthread_mutex_t reg_lock;
    struct entry *buckets[4096];
    struct conn *all;
    atomic_size_t n_conns;
    struct metric *m_opened, *m_closed_slow, *m_pushed;
};

void live_config_defaults(struct live_config *c)
{
    c->ping_interval_ms = 20000;
    c->idle_timeout_ms = 60000;
    c->max_queued_messages = 64;
    c->max_queued_bytes = 256 * 1024;
    c->max_message_bytes = 16 * 1024;
}

static uint64_t key_of(int64_t project_id, const char *session_id)
{
    return XXH3_64bits_withSeed(session_id, strlen(session_id), (XXH64_hash_t)project_id);
}

static struct entry *find_entry(struct live *l, uint64_t key, int64_t project_id,
                                const char *session_id)
{
    for (struct entry *e = l->buckets[key % 4096]; e; e = e->next)
        if (e->key == key && e->project_id == project_id && !strcmp(e->session_id, session_id))
            return e;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* wslay callbacks                                                           */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user)
{
    (void)flags;
    struct conn *c = user;
    if (c->extra_off < c->extra_len) {
        size_t n = MIN(len, c->extra_len - c->extra_off);
        memcpy(buf, c->extra + c->extra_off, n);
        c->extra_off += n;
        return (ssize_t)n;
    }
    ssize_t r;
    do {
        r = recv(c->fd, buf, len, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        wslay_event_set_error(ctx, (errno == EAGAIN || errno == EWOULDBLOCK)
                                       ? WSLAY_ERR_WOULDBLOCK
                                       : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (r == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)flags;
    struct conn *c = user;
    ssize_t r;
    do {
        r = send(c->fd, data, len, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        wslay_event_set_error(ctx, (errno == EAGAIN || errno == EWOULDBLOCK)
                                       ? WSLAY_ERR_WOULDBLOCK
                                       : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    struct conn *c = user;
    c->last_recv_ns = mono_ns();
    if (arg->opcode == WSLAY_TEXT_FRAME) {
        if (c->live->on_message)
            c->live->on_message(c->live->ctx, c->project_id, c->session_id,
                                (const char *)arg->msg, arg->msg_length);
    } else if (arg->opcode == WSLAY_BINARY_FRAME) {
        static const char reason[] = "text frames only";
        wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, (const uint8_t *)reason,
                                sizeof reason - 1);
    }
}

/* ------------------------------------------------------------------------ */
/* connections                                                               */

static void update_epoll(struct conn *c)
{
    uint32_t ev = 0;
    if (wslay_event_want_read(c->ws))
        ev |= EPOLLIN;
    if (wslay_event_want_write(c->ws))
        ev |= EPOLLOUT;
    if (!ev) {
        c->dead = true;
        return;
    }
    if (ev != c->epoll_events) {
        struct epoll_event e = {.events = ev, .data.ptr = c};
        epoll_ctl(c->live->epfd, EPOLL_CTL_MOD, c->fd, &e);
        c->epoll_events = ev;
    }
}

static void destroy(struct live *l, struct conn *c)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    pthread_mutex_lock(&l->reg_lock);
    struct entry *e = find_entry(l, c->key, c->project_id, c->session_id);
    if (e) {
        struct conn **pp = &e->conns;
        while (*pp && *pp != c)
            pp = &(*pp)->next_in_entry;
        if (*pp) {
            *pp = c->next_in_entry;
            e->n--;
        }
        if (e->n == 0) {
            struct entry **ep = &l->buckets[c->key % 4096];
            while (*ep != e)
                ep = &(*ep)->next;
            *ep = e->next;
            free(e->session_id);
            free(e);
        }
    }
    if (c->prev_all)
        c->prev_all->next_all = c->next_all;
    else
        l->all = c->next_all;
    if (c->next_all)
        c->next_all->prev_all = c->prev_all;
    pthread_mutex_unlock(&l->reg_lock);
    atomic_fetch_sub(&l->n_conns, 1);
    wslay_event_context_free(c->ws);
    c->close_fn(c->close_ctx);
    free(c->extra);
    free(c->session_id);
    free(c);
}

static void send_now(struct conn *c)
{
    if (wslay_event_send(c->ws) != 0)
        c->dead = true;
    else
        update_epoll(c);
}

static void queue_text(struct conn *c, const char *text, size_t len)
{
    struct live *l = c->live;
    if (c->closing_slow)
        return;
    if (wslay_event_get_queued_msg_count(c->ws) >= l->cfg.max_queued_messages ||
        wslay_event_get_queued_msg_length(c->ws) + len > l->cfg.max_queued_bytes) {
        /* Too slow to keep up: let it reconnect rather than queue without end. */
        static const char reason[] = "send queue full";
        wslay_event_queue_close(c->ws, 1013, (const uint8_t *)reason, sizeof reason - 1);
        c->closing_slow = true;
        metric_add(l->m_closed_slow, 1);
        return;
    }
    struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
    wslay_event_queue_msg(c->ws, &msg);
}

static void attach(struct live *l, struct cmd *cmd)
{
    struct conn *c = cmd->conn;
    struct wslay_event_callbacks cb = {recv_cb, send_cb, NULL, NULL, NULL, NULL, on_msg};
    if (wslay_event_context_server_init(&c->ws, &cb, c) != 0) {
        c->close_fn(c->close_ctx);
        free(c->extra);
        free(c->session_id);
        free(c);
        return;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, l->cfg.max_message_bytes);
    int flags = fcntl(c->fd, F_GETFL, 0);
    fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
    c->last_recv_ns = c->last_ping_ns = mono_ns();
    pthread_mutex_lock(&l->reg_lock);
    struct entry *e = find_entry(l, c->key, c->project_id, c->session_id);
    if (!e) {
        e = xcalloc(1, sizeof *e);
        e->key = c->key;
        e->project_id = c->project_id;
        e->session_id = xstrdup(c->session_id);
        e->next = l->buckets[c->key % 4096];
        l->buckets[c->key % 4096] = e;
    }
    c->next_in_entry = e->conns;
    e->conns = c;
    e->n++;
    c->next_all = l->all;
    if (l->all)
        l->all->prev_all = c;
    l->all = c;
    pthread_mutex_unlock(&l->reg_lock);
    atomic_fetch_add(&l->n_conns, 1);
    metric_add(l->m_opened, 1);
    c->epoll_events = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    for (int i = 0; i < cmd->n_first; i++)
        queue_text(c, cmd->first[i], strlen(cmd->first[i]));
    /* Bytes that came with the handshake may already hold frames. */
    if (c->extra_len && wslay_event_recv(c->ws) != 0)
        c->dead = true;
    if (!c->dead)
        send_now(c);
    /* A dead connection is destroyed by the loop after this epoll batch:
     * later events of the batch may still point at it. */
}

static void push(struct live *l, struct cmd *cmd)
{
    uint64_t key = key_of(cmd->project_id, cmd->session_id);
    struct entry *e = find_entry(l, key, cmd->project_id, cmd->session_id);
    if (!e)
        return;
    for (struct conn *c = e->conns; c; c = c->next_in_entry) {
        if (c->dead)
            continue;
        queue_text(c, cmd->json, cmd->len);
        send_now(c);
        metric_add(l->m_pushed, 1);
    }
}

static void free_cmd(struct cmd *c)
{
    for (int i = 0; i < c->n_first; i++)
        free(c->first[i]);
    free(c->first);
    free(c->session_id);
    free(c->json);
    free(c);
}

static void run_commands(struct live *l)
{
    uint64_t v;
    while (read(l->evfd, &v, sizeof v) > 0) {
    }
    pthread_mutex_lock(&l->cmd_lock);
    struct cmd *list = l->cmd_head;
    l->cmd_head = l->cmd_tail = NULL;
    pthread_mutex_unlock(&l->cmd_lock);
    while (list) {
        struct cmd *c = list;
        list = list->next;
        if (c->type == CMD_ATTACH)
            attach(l, c);
        else
            push(l, c);
        free_cmd(c);
    }
}

static void housekeeping(struct live *l)
{
    uint64_t now = mono_ns();
    uint64_t ping_ns = (uint64_t)l->cfg.ping_interval_ms * 1000000u;
    uint64_t idle_ns = (uint64_t)l->cfg.idle_timeout_ms * 1000000u;
    struct conn *c = l->all;
    while (c) {
        struct conn *next = c->next_all;
        if (now - c->last_recv_ns > idle_ns) {
            static const char reason[] = "idle";
            wslay_event_queue_close(c->ws, WSLAY_CODE_GOING_AWAY, (const uint8_t *)reason,
                                    sizeof reason - 1);
            send_now(c);
            c->dead = true; /* no reply awaited from a silent peer */
        } else if (now - c->last_ping_ns > ping_ns) {
            struct wslay_event_msg ping = {WSLAY_PING, (const uint8_t *)"", 0};
            wslay_event_queue_msg(c->ws, &ping);
            c->last_ping_ns = now;
            send_now(c);
        }
        if (c->dead)
            destroy(l, c);
        c = next;
    }
}

static void *live_main(void *arg)
{
    struct live *l = arg;
    struct epoll_event events[64];
    uint64_t last_house = mono_ns();
    for (;;) {
        int n = epoll_wait(l->epfd, events, 64, 1000);
        pthread_mutex_lock(&l->cmd_lock);
        bool stop = l->stop;
        pthread_mutex_unlock(&l->cmd_lock);
        if (stop)
            break;
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                run_commands(l);
                continue;
            }
            struct conn *c = events[i].data.ptr;
            if (c->dead)
                continue;
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                if (wslay_event_recv(c->ws) != 0)
                    c->dead = true;
            if (!c->dead && (events[i].events & EPOLLOUT))
                if (wslay_event_send(c->ws) != 0)
                    c->dead = true;
            if (!c->dead)
                update_epoll(c);
        }
        /* Destroy the dead after the batch (events may still point at them). */
        for (struct conn *c = l->all; c;) {
            struct conn *next = c->next_all;
            if (c->dead)
                destroy(l, c);
            c = next;
        }
        if (mono_ns() - last_house > 1000000000ull) {
            last_house = mono_ns();
            housekeeping(l);
        }
    }
    /* Going away: tell every client, then close. */
    run_commands(l);
    while (l->all) {
        struct conn *c = l->all;
        static const char reason[] = "server shutting down";
        wslay_event_queue_close(c->ws, WSLAY_CODE_GOING_AWAY, (const uint8_t *)reason,
                                sizeof reason - 1);
        wslay_event_send(c->ws);
        destroy(l, c);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* API                                                                       */

struct live *live_new(const struct live_config *cfg, live_message_fn on_message, void *ctx)
{
    struct live *l = xcalloc(1, sizeof *l);
    l->cfg = *cfg;
    l->on_message = on_message;
    l->ctx = ctx;
    pthread_mutex_init(&l->cmd_lock, NULL);
    pthread_mutex_init(&l->reg_lock, NULL);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev);
    l->m_opened = metrics_counter("journey_live_connections_opened_total",
                                  "WebSocket connections opened on /v1/live", NULL);
    l->m_closed_slow = metrics_counter(
        "journey_live_slow_closed_total",
        "Live connections closed because the client did not keep up (1013)", NULL);
    l->m_pushed = metrics_counter("journey_live_messages_pushed_total",
                                  "Messages pushed to live connections", NULL);
    if (pthread_create(&l->thread, NULL, live_main, l) == 0)
        l->running = true;
    return l;
}

static void wake(struct live *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->evfd, &one, sizeof one);
    (void)r;
}

static void enqueue(struct live *l, struct cmd *c)
{
    pthread_mutex_lock(&l->cmd_lock);
    if (l->cmd_tail)
        l->cmd_tail->next = c;
    else
        l->cmd_head = c;
    l->cmd_tail = c;
    pthread_mutex_unlock(&l->cmd_lock);
    wake(l);
}

void live_free(struct live *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->cmd_lock);
    l->stop = true;
    pthread_mutex_unlock(&l->cmd_lock);
    wake(l);
    if (l->running)
        pthread_join(l->thread, NULL);
    struct cmd *c = l->cmd_head;
    while (c) {
        struct cmd *n = c->next;
        if (c->type == CMD_ATTACH) {
            c->conn->close_fn(c->conn->close_ctx);
            free(c->conn->extra);
            free(c->conn->session_id);
            free(c->conn);
        }
        free_cmd(c);
        c = n;
    }
    for (int i = 0; i < 4096; i++) {
        struct entry *e = l->buckets[i];
        while (e) {
            struct entry *n = e->next;
            free(e->session_id);
            free(e);
            e = n;
        }
    }
    close(l->epfd);
    close(l->evfd);
    pthread_mutex_destroy(&l->cmd_lock);
    pthread_mutex_destroy(&l->reg_lock);
    free(l);
}

int live_attach(struct live *l, int fd, int64_t project_id, const char *session_id,
                const char *extra, size_t extra_len, const char *const *first, int n_first,
                live_close_fn close_fn, void *close_ctx)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->live = l;
    c->fd = fd;
    c->project_id = project_id;
    c->session_id = xstrdup(session_id);
    c->key = key_of(project_id, session_id);
    c->close_fn = close_fn;
    c->close_ctx = close_ctx;
    if (extra_len) {
        c->extra = xmalloc(extra_len);
        memcpy(c->extra, extra, extra_len);
        c->extra_len = extra_len;
    }
    struct cmd *cmd = xcalloc(1, sizeof *cmd);
    cmd->type = CMD_ATTACH;
    cmd->conn = c;
    if (n_first > 0) {
        cmd->first = xcalloc((size_t)n_first, sizeof *cmd->first);
        for (int i = 0; i < n_first; i++)
            cmd->first[i] = xstrdup(first[i]);
        cmd->n_first = n_first;
    }
    enqueue(l, cmd);
    return 0;
}

int live_push(struct live *l, int64_t project_id, const char *session_id, const char *json,
              size_t len)
{
    uint64_t key = key_of(project_id, session_id);
    pthread_mutex_lock(&l->reg_lock);
    struct entry *e = find_entry(l, key, project_id, session_id);
    int n = e ? e->n : 0;
    pthread_mutex_unlock(&l->reg_lock);
    if (n == 0)
        return 0;
    struct cmd *cmd = xcalloc(1, sizeof *cmd);
    cmd->type = CMD_PUSH;
    cmd->project_id = project_id;
    cmd->session_id = xstrdup(session_id);
    cmd->json = xmalloc(len + 1);
    memcpy(cmd->json, json, len);
    cmd->json[len] = '\0';
    cmd->len = len;
    enqueue(l, cmd);
    return n;
}

size_t live_connections(struct live *l)
{
    return atomic_load(&l->n_conns);
}
