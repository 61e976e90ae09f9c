/*
 * decode.c - request body decoding: gzip or deflate by Content-Encoding, and
 * gzip by its magic bytes (1f 8b) whatever the headers say, because SDKs send
 * gzip labelled as form data or with no Content-Encoding at all. The
 * decompressed size is capped by max_request_bytes, so a gzip bomb stops at
 * the cap instead of filling memory.
 */
#include "ingest/ingest_internal.h"

#include "common/util.h"

#include <string.h>
#include <strings.h>
#include <zlib.h>

/* 0 ok, -1 corrupt or truncated, -2 over the cap. windowBits: 15+16 gzip,
 * 15 zlib, -15 raw deflate. Concatenated gzip members are all inflated. */
static int inflate_capped(const unsigned char *in, size_t n, int window_bits, size_t cap,
                          struct buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, window_bits) != Z_OK)
        return -1;
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)n;
    int rc = 0;
    for (;;) {
        buf_reserve(out, 16384);
        size_t room = out->cap - out->len - 1;
        zs.next_out = (unsigned char *)out->data + out->len;
        zs.avail_out = (uInt)room;
        int z = inflate(&zs, Z_NO_FLUSH);
        out->len += room - zs.avail_out;
        out->data[out->len] = '\0';
        if (out->len > cap) {
            rc = -2;
            break;
        }
        if (z == Z_STREAM_END) {
            if (zs.avail_in > 0 && window_bits > 15 && zs.next_in[0] == 0x1f) {
                /* Another gzip member follows. */
                if (inflateReset(&zs) != Z_OK) {
                    rc = -1;
                    break;
                }
                continue;
            }
            break;
        }
        if (z == Z_BUF_ERROR && zs.avail_in == 0) {
            rc = -1; /* truncated: input ended before the stream did */
            break;
        }
        if (z != Z_OK && z != Z_BUF_ERROR) {
            rc = -1;
            break;
        }
    }
    inflateEnd(&zs);
    return rc;
}

/* Which decoder the body needs: 0 none, else inflate's windowBits (15 zlib,
 * -15 raw deflate, 31 gzip); WINDOW_UNSUPPORTED for an unknown
 * Content-Encoding (err set). */
#define WINDOW_UNSUPPORTED 1000

static int pick_window_bits(const struct ingest_batch *b, const unsigned char *p, size_t n,
                            struct ingest_error *err)
{
    const char *enc = b->req.content_encoding;
    if (enc && *enc && strcasecmp(enc, "identity") != 0) {
        if (strcasecmp(enc, "gzip") == 0 || strcasecmp(enc, "x-gzip") == 0)
            return 15 + 16;
        if (strcasecmp(enc, "deflate") == 0)
            /* RFC 9110 deflate is zlib-wrapped; some clients send raw deflate. */
            return (n >= 2 && (p[0] & 0x0f) == 8 && ((p[0] << 8) | p[1]) % 31 == 0) ? 15 : -15;
        ingest_error_set(err, 415, "unsupported_encoding", "Content-Encoding", -1,
                         "Content-Encoding '%.40s' is not supported (use gzip, deflate or "
                         "none)",
                         enc);
        return WINDOW_UNSUPPORTED;
    }
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return 15 + 16;
    return 0;
}

int ingest_batch_decode_take(struct ingest_batch *b, struct buf *body, struct ingest_error *err)
{
    struct ingest_error unused;
    size_t cap = (size_t)b->ig->cfg.max_request_bytes;
    if (body->len == 0 || body->len > cap ||
        pick_window_bits(b, (const unsigned char *)body->data, body->len, &unused) != 0)
        return ingest_batch_decode(b, body->data, body->len, err);
    buf_free(&b->body);
    b->body = *body;
    *body = (struct buf)BUF_INIT;
    return 0;
}

int ingest_batch_decode(struct ingest_batch *b, const void *raw, size_t n, struct ingest_error *err)
{
    const unsigned char *p = raw;
    size_t cap = (size_t)b->ig->cfg.max_request_bytes;
    int window_bits = pick_window_bits(b, p, n, err);
    if (window_bits == WINDOW_UNSUPPORTED)
        goto keep_raw;
    buf_reset(&b->body);
    if (window_bits == 0) {
        if (n > cap) {
            ingest_error_set(err, 413, "body_too_large", "", -1,
                             "request body is %zu bytes; the limit is %zu", n, cap);
            return -1;
        }
        buf_append(&b->body, raw, n);
    } else {
        int rc = inflate_capped(p, n, window_bits, cap, &b->body);
        if (rc == -2) {
            ingest_error_set(err, 413, "body_too_large", "", -1,
                             "decompressed body exceeds the limit of %zu bytes", cap);
            return -1;
        }
        if (rc < 0) {
            ingest_error_set(err, 400, "invalid_encoding", "", -1,
                             "the body is not valid %s data (corrupt or truncated)",
                             window_bits > 15 ? "gzip" : "deflate");
            goto keep_raw;
        }
    }
    if (b->body.len == 0 || !b->body.data) {
        buf_append(&b->body, "", 0);
        ingest_error_set(err, 400, "empty_body", "", -1, "the request body is empty");
        return -1;
    }
    return 0;

keep_raw:
    /* The request may be kept as a dead letter: keep the bytes as received. */
    buf_reset(&b->body);
    buf_append(&b->body, raw, n <= cap ? n : cap);
    return -1;
}
