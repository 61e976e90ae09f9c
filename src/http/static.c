/*
 * static.c - files served the way a web server serves them:
 *
 *   /journey.js (+ journey.debug.js and its map)      web_root/tracker/dist/
 *   /demo/...                                          web_root/demo/dist/ (demo mode)
 *   /demo/config.json                                  the demo project's write key (demo mode)
 *   / and everything else that is a GET                web_root/dashboard/dist/ (a single-page
 *                                                      app: unknown paths get index.html)
 *
 * Each file is read once into memory (re-read when its mtime changes) with
 * its ETag (XXH3 of the content) and, for text types, a gzip copy. Answers
 * honour If-None-Match (304), single-range Range requests (206, 416; a
 * <video> cannot seek without them), Accept-Encoding: gzip, and carry the
 * right Content-Type, X-Content-Type-Options: nosniff, and Cache-Control:
 * a year and immutable for content-hashed assets, five minutes for
 * journey.js (sites embed that URL), no-cache for HTML. HTML pages get a
 * strict Content-Security-Policy. Paths are checked before any file is
 * touched: no "..", no hidden files, nothing outside the served folder.
 */
#include "http/http_internal.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>
#include <zlib.h>

#define MAX_FILE_BYTES (64u << 20)

struct file {
    struct file *next;
    char *path; /* absolute */
    time_t mtime;
    off_t size;
    char *data;
    size_t len;
    char *gz;
    size_t gz_len;
    char etag[24];
    const char *type;
    bool compressible;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct file *cache;

static const struct {
    const char *ext;
    const char *type;
    bool compressible;
} types[] = {
    {".html", "text/html; charset=utf-8", true},
    {".js", "text/javascript; charset=utf-8", true},
    {".mjs", "text/javascript; charset=utf-8", true},
    {".css", "text/css; charset=utf-8", true},
    {".json", "application/json", true},
    {".map", "application/json", true},
    {".svg", "image/svg+xml", true},
    {".vtt", "text/vtt; charset=utf-8", true},
    {".txt", "text/plain; charset=utf-8", true},
    {".webm", "video/webm", false},
    {".mp4", "video/mp4", false},
    {".webp", "image/webp", false},
    {".png", "image/png", false},
    {".jpg", "image/jpeg", false},
    {".ico", "image/x-icon", false},
    {".woff2", "font/woff2", false},
};

static void classify(struct file *f)
{
    f->type = "application/octet-stream";
    const char *dot = strrchr(f->path, '.');
    for (size_t i = 0; dot && i < ARRAY_LEN(types); i++) {
        if (!strcmp(dot, types[i].ext)) {
            f->type = types[i].type;
            f->compressible = types[i].compressible;
        }
    }
}

static void gzip_copy(struct file *f)
{
    if (!f->compressible || f->len < 512)
        return;
    z_stream zs = {0};
    if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return;
    size_t cap = deflateBound(&zs, f->len);
    f->gz = xmalloc(cap);
    zs.next_in = (unsigned char *)f->data;
    zs.avail_in = (uInt)f->len;
    zs.next_out = (unsigned char *)f->gz;
    zs.avail_out = (uInt)cap;
    deflate(&zs, Z_FINISH);
    f->gz_len = zs.total_out;
    deflateEnd(&zs);
    if (f->gz_len >= f->len) {
        free(f->gz);
        f->gz = NULL;
        f->gz_len = 0;
    }
}

static void free_file(struct file *f)
{
    free(f->path);
    free(f->data);
    free(f->gz);
    free(f);
}

/* The cached file at the absolute path, loaded or refreshed. Returns a copy
 * of the entry's fields valid until the next call on the same path (the
 * caller copies the bytes into its response). Locked by cache_lock. */
static struct file *load(const char *path, const struct stat *st)
{
    struct file *f;
    for (f = cache; f; f = f->next)
        if (!strcmp(f->path, path))
            break;
    if (f && f->mtime == st->st_mtime && f->size == st->st_size)
        return f;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    struct file *nf = xcalloc(1, sizeof *nf);
    nf->path = xstrdup(path);
    nf->mtime = st->st_mtime;
    nf->size = st->st_size;
    nf->data = xmalloc((size_t)st->st_size + 1);
    nf->len = fread(nf->data, 1, (size_t)st->st_size, fp);
    fclose(fp);
    classify(nf);
    gzip_copy(nf);
    snprintf(nf->etag, sizeof nf->etag, "\"%016llx\"",
             (unsigned long long)XXH3_64bits(nf->data, nf->len));
    if (f) {
        /* Replace in place: responses copy their bytes, so nothing refers to it. */
        struct file **pp = &cache;
        while (*pp != f)
            pp = &(*pp)->next;
        nf->next = f->next;
        *pp = nf;
        free_file(f);
    } else {
        nf->next = cache;
        cache = nf;
    }
    return nf;
}

/* A path relative to root is acceptable: no "..", no "//", no hidden
 * segment, no backslash or control character. */
static bool safe_relative(const char *rel)
{
    if (!*rel)
        return true;
    for (const char *p = rel; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '\\')
            return false;
    const char *seg = rel;
    while (*seg) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 && end)
            return false;
        if (n > 0 && seg[0] == '.')
            return false;
        seg += n;
        if (*seg == '/')
            seg++;
    }
    return true;
}

static bool parse_range(const char *h, size_t len, size_t *start, size_t *end)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return false;
    const char *p = h + 6;
    char *e;
    if (*p == '-') {
        unsigned long long n = strtoull(p + 1, &e, 10);
        if (*e || n == 0)
            return false;
        *start = n >= len ? 0 : len - (size_t)n;
        *end = len - 1;
        return true;
    }
    unsigned long long a = strtoull(p, &e, 10);
    if (*e != '-')
        return false;
    *start = (size_t)a;
    if (e[1] == '\0') {
        *end = len - 1;
    } else {
        char *e2;
        unsigned long long b = strtoull(e + 1, &e2, 10);
        if (*e2 || b < a)
            return false;
        *end = b >= len ? len - 1 : (size_t)b;
    }
    return true;
}

static const char *cache_control(const char *rel, const char *type)
{
    if (!strncmp(type, "text/html", 9))
        return "no-cache";
    if (!strcmp(rel, "journey.js"))
        return "public, max-age=300";
    /* Vite names built assets name-HASH.ext under assets/. */
    if (strstr(rel, "assets/"))
        return "public, max-age=31536000, immutable";
    return "public, max-age=3600";
}

static bool accepts_gzip(struct http_request *req)
{
    const char *ae = http_header(req, "Accept-Encoding");
    return ae && strstr(ae, "gzip");
}

/* Serves root/rel. spa: a missing file under root answers root/index.html. */
static enum MHD_Result serve_file(struct http_request *req, const char *root, const char *rel,
                                  bool spa)
{
    if (!root)
        return http_respond_error(req, 404, "not_found", "web assets are not built (run `make web`)");
    if (!safe_relative(rel))
        return http_respond_error(req, 404, "not_found", "no such file");
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, *rel ? rel : "index.html");
    bool ok = stat(path, &st) == 0;
    if (ok && S_ISDIR(st.st_mode)) {
        snprintf(path, sizeof path, "%s/%s%sindex.html", root, rel,
                 rel[strlen(rel) - 1] == '/' ? "" : "/");
        ok = stat(path, &st) == 0;
    }
    if ((!ok || !S_ISREG(st.st_mode)) && spa && !strchr(rel, '.')) {
        snprintf(path, sizeof path, "%s/index.html", root);
        ok = stat(path, &st) == 0;
    }
    if (!ok || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE_BYTES)
        return http_respond_error(req, 404, "not_found", "no such file: /%.200s", rel);
    /* Belt and braces: the resolved file must live under the root. */
    char real[PATH_MAX], real_root[PATH_MAX];
    if (!realpath(path, real) || !realpath(root, real_root) ||
        strncmp(real, real_root, strlen(real_root)) != 0 || real[strlen(real_root)] != '/')
        return http_respond_error(req, 404, "not_found", "no such file");

    pthread_mutex_lock(&cache_lock);
    struct file *f = load(real, &st);
    if (!f) {
        pthread_mutex_unlock(&cache_lock);
        return http_respond_error(req, 404, "not_found", "no such file");
    }
    const char *inm = http_header(req, "If-None-Match");
    bool not_modified = inm && strstr(inm, f->etag);
    const char *range_h = http_header(req, "Range");
    size_t start = 0, end = f->len ? f->len - 1 : 0;
    bool ranged = !not_modified && range_h && f->len > 0;
    int status = 200;
    if (ranged) {
        if (!parse_range(range_h, f->len, &start, &end) || start >= f->len) {
            char cr[64];
            snprintf(cr, sizeof cr, "bytes */%zu", f->len);
            pthread_mutex_unlock(&cache_lock);
            struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(r, "Content-Range", cr);
            MHD_add_response_header(r, "X-Request-Id", req->request_id);
            req->status = 416;
            req->state = REQ_ANSWERED;
            enum MHD_Result res = MHD_queue_response(req->conn, 416, r);
            MHD_destroy_response(r);
            return res;
        }
        status = 206;
    }
    bool gz = status == 200 && !not_modified && f->gz && accepts_gzip(req);
    const char *body = gz ? f->gz : f->data + start;
    size_t body_len = not_modified ? 0 : gz ? f->gz_len : end - start + 1;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body_len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", f->type);
    MHD_add_response_header(r, "ETag", f->etag);
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", cache_control(rel, f->type));
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    if (f->compressible)
        MHD_add_response_header(r, "Vary", "Accept-Encoding");
    if (gz)
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    if (status == 206) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %zu-%zu/%zu", start, end, f->len);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    if (!strncmp(f->type, "text/html", 9)) {
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' "
                                "data:; style-src 'self'; script-src 'self'; object-src 'none'; "
                                "base-uri 'none'; frame-ancestors 'self'");
        MHD_add_response_header(r, "Referrer-Policy", "strict-origin-when-cross-origin");
    }
    if (!strcmp(rel, "journey.js"))
        MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    pthread_mutex_unlock(&cache_lock);
    if (not_modified)
        status = 304;
    req->status = status;
    req->state = REQ_ANSWERED;
    enum MHD_Result res = MHD_queue_response(req->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return res;
}

static enum MHD_Result demo_config(struct http_request *req)
{
    struct http_server *srv = req->srv;
    if (!srv->demo_write_key[0])
        return http_respond_error(req, 404, "not_found", "demo mode is off");
    const char *host = http_header(req, "Host");
    struct buf out = BUF_INIT;
    buf_puts(&out, "{\"writeKey\":");
    json_str(&out, srv->demo_write_key);
    if (host && strlen(host) < 200 && !strpbrk(host, "\"\\<> ")) {
        buf_puts(&out, ",\"host\":\"http://");
        buf_puts(&out, host);
        buf_putc(&out, '"');
    }
    buf_putc(&out, '}');
    return http_respond(req, 200, &out, 0);
}

/* The dashboard's own pages (the routes of web/dashboard/src/main.ts): a
 * reload or a bookmark of one gets index.html, and the app draws the page.
 * Any other missing path is a plain 404. */
static bool dashboard_page(const char *path)
{
    static const char *const pages[] = {"live",      "journeys", "session",       "funnels",
                                        "retention", "segments", "interventions", "model",
                                        "deadletters", "videos"};
    const char *seg = path + 1;
    size_t n = strcspn(seg, "/");
    if (n == 0)
        return true; /* "/" */
    for (size_t i = 0; i < ARRAY_LEN(pages); i++)
        if (strlen(pages[i]) == n && !strncmp(seg, pages[i], n))
            return true;
    return false;
}

enum MHD_Result http_static_handle(struct http_request *req)
{
    struct http_server *srv = req->srv;
    const char *path = req->path;
    char root[PATH_MAX];
    const char *web = srv->deps.web_root;
    if (!strcmp(path, "/journey.js") || !strcmp(path, "/journey.debug.js") ||
        !strcmp(path, "/journey.debug.js.map")) {
        snprintf(root, sizeof root, "%s/tracker/dist", web ? web : "");
        return serve_file(req, web ? root : NULL, path + 1, false);
    }
    if (!strcmp(path, "/demo") || str_has_prefix(path, "/demo/")) {
        if (!srv->deps.cfg->demo)
            return http_respond_error(req, 404, "not_found",
                                      "the demo site is served in demo mode (--demo)");
        if (!strcmp(path, "/demo/config.json"))
            return demo_config(req);
        snprintf(root, sizeof root, "%s/demo/dist", web ? web : "");
        return serve_file(req, web ? root : NULL, path[5] ? path + 6 : "", false);
    }
    snprintf(root, sizeof root, "%s/dashboard/dist", web ? web : "");
    return serve_file(req, web ? root : NULL, path + 1, dashboard_page(path));
}

void http_static_clear_cache(void)
{
    pthread_mutex_lock(&cache_lock);
    while (cache) {
        struct file *n = cache->next;
        free_file(cache);
        cache = n;
    }
    pthread_mutex_unlock(&cache_lock);
}
