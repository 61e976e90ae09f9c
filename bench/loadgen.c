/*
 * loadgen.c - an HTTP/1.1 load generator for the ingest benchmark.
 *
 * Why our own: wrk cannot send at a fixed rate, and a closed-loop loader
 * (send the next request when the last answer arrives) hides a slow server
 * behind its own waiting (coordinated omission): when the server stalls for
 * 50 ms, a closed loop simply stops asking, and the stall shows up as one
 * slow request instead of the hundreds that a real client population would
 * have sent meanwhile. In rate mode (-r) this loader schedules requests at
 * start + k/rate whatever happens, and measures each latency from the time
 * the request was *due*, not from when a connection was free to send it.
 *
 *   closed loop (no -r): every connection sends its next request as soon as
 *                        the previous answer is complete: peak throughput.
 *   open loop (-r RATE): RATE requests/s in total, each on an idle connection;
 *                        a request due while every connection is busy waits
 *                        in a FIFO and its wait counts in its latency.
 *
 * Bodies look like what a browser tracker sends (a track message of about
 * 570 bytes: page context, user agent, session id). With -n 0 the body is
 * one bare message (for /v1/track); with -n N it is {"batch":[N messages]}.
 * Every message gets a unique messageId (the server deduplicates on it):
 *
 *     <run id>-<thread>-<request seq, 10 digits>-<index, 3 digits>
 *
 * The body is built once per connection with fixed-width fields, and each
 * request only overwrites the digits of its sequence number (and visitor
 * number) at offsets recorded while building, so the cost per request is a
 * few hundred bytes of memcpy and the loader is never what limits the run.
 *
 * Threads (-t) each own an epoll loop, a share of the connections and a
 * share of the rate; nothing is shared between them until the end.
 *
 * Accounting: an answer 2xx is "ok"; for Journey's answers the "accepted"
 * count in the JSON body is summed, so the caller can compare it with the
 * rows stored. At the end of the run no new request is sent and the ones in
 * flight are waited for (up to -D seconds), so every request the server may
 * have stored is also counted, unless it is reported as unanswered.
 *
 * Output: one JSON object on stdout (see print_results): counts, statuses,
 * the latency distribution (from the due time) and the service time (from
 * the first byte sent), and per second the slowest answer, so a stall can be
 * lined up with what the server did at that moment.
 *
 * Build: gcc -O2 -Wall -Wextra -pthread -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define RBUF_BYTES 65536
#define BACKLOG_SLOTS (1u << 20)
#define MAX_STATUS 600

/* ------------------------------------------------------------------------ */
/* options                                                                   */

struct options {
    const char *host;
    int port;
    const char *path;
    const char *write_key; /* NULL: no Authorization header (nginx) */
    const char *run_id;
    int messages; /* 0: one bare message per request */
    int connections;
    int threads;
    double duration_s;
    double warmup_s;
    double drain_s;
    double rate; /* requests/s in total; 0: closed loop */
};

static struct options opt = {
    .host = "127.0.0.1",
    .port = 0,
    .path = "/v1/batch",
    .write_key = NULL,
    .run_id = "00000000",
    .messages = 100,
    .connections = 64,
    .threads = 2,
    .duration_s = 10,
    .warmup_s = 1,
    .drain_s = 10,
    .rate = 0,
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die("out of memory (%zu bytes)", n);
    return q;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* request template                                                          */

/* A growable byte string used to build the template. */
struct text {
    char *p;
    size_t len, cap;
};

static void text_put(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = xrealloc(t->p, t->cap);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_puts(struct text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

#define SEQ_DIGITS 10
#define VISITOR_DIGITS 8

/* Where the per-request digits go, as offsets into the request bytes. */
struct stamps {
    size_t *seq; /* SEQ_DIGITS each */
    size_t n_seq;
    size_t *visitor; /* VISITOR_DIGITS each */
    size_t n_visitor;
};

static void stamp_add(size_t **v, size_t *n, size_t off)
{
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = off;
}

static void put_placeholder(struct text *t, size_t **v, size_t *n, int digits)
{
    stamp_add(v, n, t->len);
    for (int i = 0; i < digits; i++)
        text_put(t, "0", 1);
}

static void iso_time(char *out, size_t n, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", date, (int)(ms % 1000));
}

static const char *const event_names[] = {
    "Loan Calculator Used",
    "Button Clicked",
    "Form Field Completed",
    "Scroll Depth Reached",
};
static const char *const page_paths[] = {
    "/loans/personal",
    "/loans/apply/step-2",
    "/pricing",
    "/help/repayments",
};

/* Appends one browser-tracker-like track message (about 570 bytes). */
static void put_message(struct text *t, struct stamps *st, int thread, int index,
                        const char *original_ts, const char *sent_at)
{
    char buf[256];
    const char *ev = event_names[index % 4];
    const char *path = page_paths[(index / 4) % 4];
    snprintf(buf, sizeof buf, "{\"type\":\"track\",\"event\":\"%s\",\"anonymousId\":\"anon-%02d",
             ev, thread);
    text_puts(t, buf);
    put_placeholder(t, &st->visitor, &st->n_visitor, VISITOR_DIGITS);
    snprintf(buf, sizeof buf, "\",\"messageId\":\"%s-%02d-", opt.run_id, thread);
    text_puts(t, buf);
    put_placeholder(t, &st->seq, &st->n_seq, SEQ_DIGITS);
    snprintf(buf, sizeof buf, "-%03d\",\"originalTimestamp\":\"%s\",\"sentAt\":\"%s\",",
             index % 1000, original_ts, sent_at);
    text_puts(t, buf);
    snprintf(buf, sizeof buf,
             "\"properties\":{\"amount\":%d,\"term_months\":36,\"variant\":\"b\"},",
             5000 + 250 * (index % 40));
    text_puts(t, buf);
    snprintf(buf, sizeof buf,
             "\"context\":{\"page\":{\"path\":\"%s\",\"url\":\"https://bank.example%s\","
             "\"title\":\"Personal loans | Example Bank\",\"referrer\":\"https://"
             "www.google.com/\"},",
             path, path);
    text_puts(t, buf);
    text_puts(t, "\"userAgent\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                 "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\",");
    snprintf(buf, sizeof buf, "\"sessionId\":\"s-%02d", thread);
    text_puts(t, buf);
    put_placeholder(t, &st->visitor, &st->n_visitor, VISITOR_DIGITS);
    text_puts(t, "\",\"locale\":\"en-US\"}}");
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const char *in, char *out)
{
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint32_t)(unsigned char)in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The complete request (head and body) for one thread; stamp offsets are
 * relative to its first byte. Each connection works on its own copy. */
struct request_template {
    char *bytes;
    size_t len;
    size_t body_len;
    struct stamps st;
};

static void build_template(struct request_template *rt, int thread)
{
    struct text body = {0};
    struct stamps st = {0};
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    char original_ts[40], sent_at[40];
    iso_time(original_ts, sizeof original_ts, now_ms - 180);
    iso_time(sent_at, sizeof sent_at, now_ms);
    if (opt.messages == 0) {
        put_message(&body, &st, thread, 0, original_ts, sent_at);
    } else {
        text_puts(&body, "{\"batch\":[");
        for (int i = 0; i < opt.messages; i++) {
            if (i)
                text_puts(&body, ",");
            put_message(&body, &st, thread, i, original_ts, sent_at);
        }
        text_puts(&body, "],\"sentAt\":\"");
        text_puts(&body, sent_at);
        text_puts(&body, "\"}");
    }
    struct text req = {0};
    char line[512];
    snprintf(line, sizeof line, "POST %s HTTP/1.1\r\nHost: %s:%d\r\n", opt.path, opt.host,
             opt.port);
    text_puts(&req, line);
    if (opt.write_key) {
        char user[300], enc[420];
        snprintf(user, sizeof user, "%s:", opt.write_key);
        base64(user, enc);
        snprintf(line, sizeof line, "Authorization: Basic %s\r\n", enc);
        text_puts(&req, line);
    }
    snprintf(line, sizeof line,
             "User-Agent: journey-loadgen/1\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             body.len);
    text_puts(&req, line);
    size_t head = req.len;
    text_put(&req, body.p, body.len);
    for (size_t i = 0; i < st.n_seq; i++)
        st.seq[i] += head;
    for (size_t i = 0; i < st.n_visitor; i++)
        st.visitor[i] += head;
    rt->bytes = req.p;
    rt->len = req.len;
    rt->body_len = body.len;
    rt->st = st;
    free(body.p);
}

static void put_digits(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* ------------------------------------------------------------------------ */
/* connections and the event loop                                            */

struct worker;

struct conn {
    struct worker *w;
    int fd;
    bool connecting;
    bool busy;       /* a request is in flight */
    bool write_done; /* all of its bytes are sent */
    bool resp_done;  /* its answer is read (it may arrive before the body is sent) */
    bool want_out;   /* EPOLLOUT is armed */
    char *req;       /* this connection's copy of the template */
    size_t sent;
    char *rbuf;
    size_t rlen;
    uint64_t due_ns;  /* when the request was due (open loop) or sent (closed loop) */
    uint64_t sent_ns; /* when its first byte was written */
    uint64_t resp_ns;
    int status;
    long accepted;
    bool close_after; /* the server said Connection: close */
    struct conn *next_idle;
};

struct samples {
    uint32_t *us;
    size_t n, cap;
};

static void samples_add(struct samples *s, uint64_t ns)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->us = xrealloc(s->us, s->cap * sizeof *s->us);
    }
    uint64_t us = ns / 1000;
    s->us[s->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

struct worker {
    int id;
    pthread_t thread;
    int ep;
    struct request_template rt;
    struct conn *conns;
    int n_conns;
    struct conn *idle;
    int inflight;
    uint64_t seq;
    double rate; /* this thread's share; 0: closed loop */
    /* the open loop's FIFO of due times waiting for a free connection */
    uint64_t *backlog;
    size_t bl_head, bl_len, bl_peak;
    uint64_t bl_dropped;
    /* counters over the whole run (warm-up and drain included) */
    uint64_t sent, answered, ok, accepted, errors, reconnects;
    uint64_t status[MAX_STATUS];
    /* counters inside the measured window */
    uint64_t win_answered, win_ok;
    struct samples latency; /* due -> answer (open loop: includes waiting for a connection) */
    uint32_t *sec_max_us;   /* per second of the window: the slowest answer, and how many */
    uint32_t *sec_count;
    int n_secs;
    struct samples service; /* first byte sent -> answer */
    uint64_t start_ns, win_start_ns, end_ns, drain_end_ns;
};

static struct sockaddr_in server_addr;

static void arm(struct conn *c, bool out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev))
        die("epoll_ctl: %s", strerror(errno));
    c->want_out = out;
}

static void conn_open(struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->connecting = true;
    c->want_out = true;
    c->rlen = 0;
    c->busy = false;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev))
        die("epoll_ctl: %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&server_addr, sizeof server_addr) && errno != EINPROGRESS)
        die("connect to %s:%d: %s", opt.host, opt.port, strerror(errno));
}

static void conn_close(struct conn *c)
{
    epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

static void stamp(struct worker *w, struct conn *c)
{
    uint64_t seq = ++w->seq;
    /* A browser batch comes from one visitor; single messages: eight
     * consecutive events per visitor. */
    uint64_t visitor = opt.messages >= 8 ? seq : seq / 8;
    const struct stamps *st = &w->rt.st;
    char sd[SEQ_DIGITS], vd[VISITOR_DIGITS];
    put_digits(sd, seq, SEQ_DIGITS);
    put_digits(vd, visitor, VISITOR_DIGITS);
    for (size_t i = 0; i < st->n_seq; i++)
        memcpy(c->req + st->seq[i], sd, SEQ_DIGITS);
    for (size_t i = 0; i < st->n_visitor; i++)
        memcpy(c->req + st->visitor[i], vd, VISITOR_DIGITS);
}

static void conn_write(struct conn *c);

static void request_start(struct conn *c, uint64_t due_ns)
{
    struct worker *w = c->w;
    stamp(w, c);
    c->busy = true;
    c->write_done = c->resp_done = false;
    c->sent = 0;
    c->rlen = 0;
    c->due_ns = due_ns;
    c->sent_ns = now_ns();
    c->status = 0;
    c->accepted = -1;
    c->close_after = false;
    w->sent++;
    w->inflight++;
    conn_write(c);
}

static void backlog_push(struct worker *w, uint64_t due)
{
    if (w->bl_len == BACKLOG_SLOTS) {
        w->bl_dropped++;
        return;
    }
    w->backlog[(w->bl_head + w->bl_len) % BACKLOG_SLOTS] = due;
    w->bl_len++;
    if (w->bl_len > w->bl_peak)
        w->bl_peak = w->bl_len;
}

static uint64_t backlog_pop(struct worker *w)
{
    uint64_t due = w->backlog[w->bl_head];
    w->bl_head = (w->bl_head + 1) % BACKLOG_SLOTS;
    w->bl_len--;
    return due;
}

/* A connection is free again: give it the next request, or park it. In the
 * open loop, requests that fell due before the end but are still waiting
 * for a connection are sent during the drain too: dropping them would hide
 * exactly the latency a stall near the end causes. */
static void conn_free(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    if (w->rate == 0 && now < w->end_ns) {
        request_start(c, now);
        return;
    }
    if (w->rate > 0 && w->bl_len > 0 && now < w->drain_end_ns) {
        request_start(c, backlog_pop(w));
        return;
    }
    c->next_idle = w->idle;
    w->idle = c;
}

static void request_failed(struct conn *c)
{
    struct worker *w = c->w;
    if (c->busy) {
        w->errors++;
        w->inflight--;
        c->busy = false;
    }
    conn_close(c);
    w->reconnects++;
    conn_open(c);
}

static void request_done(struct conn *c)
{
    struct worker *w = c->w;
    uint64_t now = c->resp_ns;
    c->busy = false;
    w->inflight--;
    w->answered++;
    if (c->status > 0 && c->status < MAX_STATUS)
        w->status[c->status]++;
    bool ok = c->status >= 200 && c->status < 300;
    if (ok) {
        w->ok++;
        if (c->accepted > 0)
            w->accepted += (uint64_t)c->accepted;
    }
    bool in_window = w->rate > 0 ? c->due_ns >= w->win_start_ns && c->due_ns < w->end_ns
                                 : now >= w->win_start_ns && now < w->end_ns;
    if (in_window) {
        w->win_answered++;
        if (ok)
            w->win_ok++;
        uint64_t lat = now - c->due_ns;
        samples_add(&w->latency, lat);
        samples_add(&w->service, now - c->sent_ns);
        uint64_t at = w->rate > 0 ? c->due_ns : now;
        int sec = (int)((at - w->win_start_ns) / 1000000000u);
        if (sec >= 0 && sec < w->n_secs) {
            w->sec_count[sec]++;
            if (lat / 1000 > w->sec_max_us[sec])
                w->sec_max_us[sec] = (uint32_t)(lat / 1000 > UINT32_MAX ? UINT32_MAX : lat / 1000);
        }
    }
    if (c->close_after) {
        conn_close(c);
        w->reconnects++;
        conn_open(c);
        return; /* conn_free once connected */
    }
    conn_free(c, now_ns());
}

static void conn_write(struct conn *c)
{
    size_t len = c->w->rt.len;
    while (c->sent < len) {
        ssize_t n = send(c->fd, c->req + c->sent, len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            arm(c, true);
            return;
        }
        if (n < 0 && errno == EINTR)
            continue;
        request_failed(c);
        return;
    }
    c->write_done = true;
    arm(c, false);
    if (c->resp_done)
        request_done(c);
}

static const char *find_ci(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(hay + i, needle, k) == 0)
            return hay + i;
    return NULL;
}

/* Returns 1 when rbuf holds a complete answer, 0 when more is needed, -1 on
 * a malformed one. */
static int parse_response(struct conn *c)
{
    char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end)
        return c->rlen >= RBUF_BYTES ? -1 : 0;
    size_t head = (size_t)(end - c->rbuf) + 4;
    if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.", 7) != 0)
        return -1;
    int status = atoi(c->rbuf + 9);
    size_t body = 0;
    const char *cl = find_ci(c->rbuf, head, "\r\ncontent-length:");
    if (cl)
        body = (size_t)strtoul(cl + 17, NULL, 10);
    else if (!(status == 204 || status == 304 || status < 200))
        return -1; /* we never send anything that would be answered chunked */
    if (c->rlen < head + body)
        return head + body > RBUF_BYTES ? -1 : 0;
    c->status = status;
    c->close_after = find_ci(c->rbuf, head, "\r\nconnection: close") != NULL;
    const char *acc = memmem(c->rbuf + head, body, "\"accepted\":", 11);
    if (acc)
        c->accepted = strtol(acc + 11, NULL, 10);
    return 1;
}

static void conn_read(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF_BYTES - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            if (!c->busy || c->resp_done) {
                request_failed(c); /* bytes nobody asked for */
                return;
            }
            int r = parse_response(c);
            if (r < 0) {
                request_failed(c);
                return;
            }
            if (r == 1) {
                c->resp_done = true;
                c->resp_ns = now_ns();
                if (c->write_done) {
                    request_done(c);
                    return;
                }
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        request_failed(c); /* closed or reset */
        return;
    }
}

static void on_event(struct conn *c, uint32_t events)
{
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err)
            die("connect to %s:%d: %s", opt.host, opt.port, strerror(err));
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        c->connecting = false;
        arm(c, false);
        conn_free(c, now_ns());
        return;
    }
    if (events & EPOLLIN) {
        conn_read(c);
        if (c->fd < 0 || c->connecting)
            return;
    }
    if ((events & EPOLLOUT) && c->busy && !c->write_done)
        conn_write(c);
    else if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
        request_failed(c);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[256];
    uint64_t interval = w->rate > 0 ? (uint64_t)(1e9 / w->rate) : 0;
    /* Threads start staggered by one interval each, so their sends interleave. */
    uint64_t next_due = w->start_ns + (uint64_t)w->id * (interval / (uint64_t)opt.threads);
    for (int i = 0; i < w->n_conns; i++)
        conn_open(&w->conns[i]);
    for (;;) {
        uint64_t now = now_ns();
        if (interval) {
            while (next_due <= now && next_due < w->end_ns) {
                struct conn *c = w->idle;
                if (c && w->bl_len == 0) {
                    w->idle = c->next_idle;
                    request_start(c, next_due);
                } else {
                    backlog_push(w, next_due);
                }
                next_due += interval;
            }
        }
        if (now >= w->end_ns && ((w->inflight == 0 && w->bl_len == 0) || now >= w->drain_end_ns)) {
            w->bl_dropped += w->bl_len; /* due, never sent within the drain time */
            w->bl_len = 0;
            break;
        }
        uint64_t wake = now >= w->end_ns ? w->drain_end_ns : w->end_ns;
        if (interval && next_due < wake)
            wake = next_due;
        uint64_t wait = wake > now ? wake - now : 0;
        if (wait > 100000000)
            wait = 100000000;
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        int n = epoll_pwait2(w->ep, evs, 256, &ts, NULL);
        if (n < 0 && errno != EINTR)
            die("epoll_pwait2: %s", strerror(errno));
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* results                                                                   */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void print_dist(const char *name, struct samples *s)
{
    printf("\"%s\":{", name);
    if (s->n == 0) {
        printf("\"n\":0}");
        return;
    }
    qsort(s->us, s->n, sizeof *s->us, cmp_u32);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->us[i];
    static const double ps[] = {50, 90, 99, 99.9};
    static const char *const names[] = {"p50", "p90", "p99", "p999"};
    printf("\"n\":%zu,\"mean\":%.3f", s->n, sum / (double)s->n / 1000.0);
    for (int i = 0; i < 4; i++) {
        size_t k = (size_t)(ps[i] / 100.0 * (double)s->n + 0.999999);
        if (k < 1)
            k = 1;
        if (k > s->n)
            k = s->n;
        printf(",\"%s\":%.3f", names[i], s->us[k - 1] / 1000.0);
    }
    printf(",\"max\":%.3f}", s->us[s->n - 1] / 1000.0);
}

static void print_results(struct worker *ws, int nw, double window_s)
{
    struct worker t = {0};
    struct samples lat = {0}, svc = {0};
    size_t peak = 0;
    for (int i = 0; i < nw; i++) {
        struct worker *w = &ws[i];
        t.sent += w->sent;
        t.answered += w->answered;
        t.ok += w->ok;
        t.accepted += w->accepted;
        t.errors += w->errors;
        t.reconnects += w->reconnects;
        t.win_answered += w->win_answered;
        t.win_ok += w->win_ok;
        t.bl_dropped += w->bl_dropped;
        t.inflight += w->inflight;
        peak += w->bl_peak;
        for (int s = 0; s < MAX_STATUS; s++)
            t.status[s] += w->status[s];
        for (size_t k = 0; k < w->latency.n; k++)
            samples_add(&lat, (uint64_t)w->latency.us[k] * 1000);
        for (size_t k = 0; k < w->service.n; k++)
            samples_add(&svc, (uint64_t)w->service.us[k] * 1000);
    }
    int msgs = opt.messages ? opt.messages : 1;
    printf("{\"mode\":\"%s\",\"connections\":%d,\"threads\":%d,\"path\":\"%s\",",
           opt.rate > 0 ? "open" : "closed", opt.connections, opt.threads, opt.path);
    printf("\"messages_per_request\":%d,\"body_bytes\":%zu,\"request_bytes\":%zu,", msgs,
           ws[0].rt.body_len, ws[0].rt.len);
    printf("\"target_rate\":%.1f,\"window_s\":%.3f,", opt.rate, window_s);
    printf("\"window_requests\":%llu,\"window_ok\":%llu,\"rps\":%.1f,\"ok_rps\":%.1f,"
           "\"messages_per_s\":%.1f,",
           (unsigned long long)t.win_answered, (unsigned long long)t.win_ok,
           t.win_answered / window_s, t.win_ok / window_s, t.win_ok * (double)msgs / window_s);
    printf("\"sent\":%llu,\"answered\":%llu,\"ok\":%llu,\"accepted_messages\":%llu,"
           "\"errors\":%llu,\"reconnects\":%llu,\"unanswered\":%d,\"never_sent\":%llu,"
           "\"backlog_peak\":%zu,",
           (unsigned long long)t.sent, (unsigned long long)t.answered, (unsigned long long)t.ok,
           (unsigned long long)t.accepted, (unsigned long long)t.errors,
           (unsigned long long)t.reconnects, t.inflight, (unsigned long long)t.bl_dropped, peak);
    printf("\"status\":{");
    bool first = true;
    for (int s = 0; s < MAX_STATUS; s++) {
        if (!t.status[s])
            continue;
        printf("%s\"%d\":%llu", first ? "" : ",", s, (unsigned long long)t.status[s]);
        first = false;
    }
    printf("},");
    print_dist("latency_ms", &lat);
    printf(",");
    print_dist("service_ms", &svc);
    /* The slowest answer of each second: stalls show up as spikes here. */
    printf(",\"per_second\":[");
    for (int k = 0; k < ws[0].n_secs; k++) {
        uint32_t mx = 0, n = 0;
        for (int i = 0; i < nw; i++) {
            n += ws[i].sec_count[k];
            if (ws[i].sec_max_us[k] > mx)
                mx = ws[i].sec_max_us[k];
        }
        printf("%s{\"n\":%u,\"max_ms\":%.3f}", k ? "," : "", n, mx / 1000.0);
    }
    printf("]}\n");
}

/* ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen -p PORT [options]\n"
            "       loadgen --free-port      print a free loopback TCP port and exit\n"
            "  -h HOST       IPv4 address (127.0.0.1)\n"
            "  -p PORT       port\n"
            "  -u PATH       request path (/v1/batch)\n"
            "  -k KEY        write key, sent as HTTP Basic user (none)\n"
            "  -n N          messages per request; 0 = one bare message (100)\n"
            "  -c N          connections (64)\n"
            "  -t N          threads (2)\n"
            "  -d SECONDS    measured duration after the warm-up (10)\n"
            "  -w SECONDS    warm-up, not measured (1)\n"
            "  -D SECONDS    at most this long to wait for answers in flight at the end (10)\n"
            "  -r RATE       open loop: RATE requests/s in total (closed loop if absent)\n"
            "  -i ID         run id, the messageId prefix (8 characters or fewer)\n");
    exit(2);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        die("cannot find a free port: %s", strerror(errno));
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--free-port"))
        return free_port();
    int ch;
    while ((ch = getopt(argc, argv, "h:p:u:k:n:c:t:d:w:D:r:i:")) != -1) {
        switch (ch) {
        case 'h':
            opt.host = optarg;
            break;
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 'u':
            opt.path = optarg;
            break;
        case 'k':
            opt.write_key = optarg;
            break;
        case 'n':
            opt.messages = atoi(optarg);
            break;
        case 'c':
            opt.connections = atoi(optarg);
            break;
        case 't':
            opt.threads = atoi(optarg);
            break;
        case 'd':
            opt.duration_s = atof(optarg);
            break;
        case 'w':
            opt.warmup_s = atof(optarg);
            break;
        case 'D':
            opt.drain_s = atof(optarg);
            break;
        case 'r':
            opt.rate = atof(optarg);
            break;
        case 'i':
            opt.run_id = optarg;
            break;
        default:
            usage();
        }
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.messages < 0 || opt.messages > 2500 ||
        opt.threads < 1 || opt.threads > MAX_THREADS || opt.connections < opt.threads ||
        opt.duration_s <= 0 || opt.warmup_s < 0 || opt.rate < 0 || strlen(opt.run_id) > 8)
        usage();
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &server_addr.sin_addr) != 1)
        die("-h wants an IPv4 address, not %s", opt.host);
    signal(SIGPIPE, SIG_IGN);

    struct worker *ws = calloc((size_t)opt.threads, sizeof *ws);
    if (!ws)
        die("out of memory");
    uint64_t start = now_ns() + 50000000; /* time to connect */
    uint64_t win_start = start + (uint64_t)(opt.warmup_s * 1e9);
    uint64_t end = win_start + (uint64_t)(opt.duration_s * 1e9);
    for (int i = 0; i < opt.threads; i++) {
        struct worker *w = &ws[i];
        w->id = i;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0)
            die("epoll_create1: %s", strerror(errno));
        build_template(&w->rt, i);
        w->n_conns = opt.connections / opt.threads + (i < opt.connections % opt.threads);
        w->conns = calloc((size_t)w->n_conns, sizeof *w->conns);
        if (!w->conns)
            die("out of memory");
        for (int k = 0; k < w->n_conns; k++) {
            struct conn *c = &w->conns[k];
            c->w = w;
            c->fd = -1;
            c->req = xmalloc(w->rt.len);
            memcpy(c->req, w->rt.bytes, w->rt.len);
            c->rbuf = xmalloc(RBUF_BYTES);
        }
        w->rate = opt.rate / opt.threads;
        if (w->rate > 0)
            w->backlog = xmalloc(BACKLOG_SLOTS * sizeof *w->backlog);
        w->n_secs = (int)(opt.duration_s + 0.999);
        w->sec_max_us = calloc((size_t)w->n_secs, sizeof *w->sec_max_us);
        w->sec_count = calloc((size_t)w->n_secs, sizeof *w->sec_count);
        if (!w->sec_max_us || !w->sec_count)
            die("out of memory");
        w->start_ns = start;
        w->win_start_ns = win_start;
        w->end_ns = end;
        w->drain_end_ns = end + (uint64_t)(opt.drain_s * 1e9);
    }
    /* Closed loop: the connections start sending as soon as they connect,
     * which is what warm-up is for. */
    for (int i = 0; i < opt.threads; i++)
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]))
            die("pthread_create failed");
    for (int i = 0; i < opt.threads; i++)
        pthread_join(ws[i].thread, NULL);
    print_results(ws, opt.threads, (double)(end - win_start) / 1e9);
    return 0;
}
