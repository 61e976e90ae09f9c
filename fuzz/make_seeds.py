#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/{ingest,json_scan,config,settings}/.

The committed files are the output of this script; run it again after a
change here (the model seeds come from `journey train`, see docs/fuzzing.md).

    python3 fuzz/make_seeds.py [CAPTURES_DIR]

CAPTURES_DIR defaults to ../shared/fixtures/client-captures (the real SDK
requests that tests/integration/fixtures.test.mjs replays); without it only
the hand-written seeds are written. Existing seed files are overwritten, other
files (regression inputs) are left alone.
"""
import glob
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# fuzz_ingest.c's first two bytes.
TYPES = ["track", "page", "screen", "identify", "group", "alias"]
SHORT = {"t": 0, "p": 1, "s": 2, "i": 3, "g": 4, "a": 5}
ENC_NONE, ENC_GZIP_MAGIC, ENC_GZIP_HEADER, ENC_RAW_GZIP, ENC_RAW_DEFLATE = 0, 1, 2, 3, 4
ENC_ZLIB, ENC_RAW_DEFLATE_HERE, ENC_BR = 5, 6, 7
MODE_ANON, MODE_FULL, MODE_NONE = 0, 1, 2
HEADERS, TAKE = 0x20, 0x40


def route_byte(posthog, batch, type_index=0):
    return (1 if posthog else 0) | (2 if batch else 0) | (type_index << 2)


def opts_byte(encoding=ENC_NONE, mode=MODE_ANON, headers=False, take=False):
    return encoding | (mode << 3) | (HEADERS if headers else 0) | (TAKE if take else 0)


def ingest_input(route, opts, body, ua=None, ip=None, sent_at=None):
    if isinstance(body, str):
        body = body.encode()
    out = bytes([route, opts])
    if opts & HEADERS:
        for line in (ua, ip, sent_at):
            out += (line or "").encode() + b"\n"
    return out + body


def route_of(path):
    """(posthog, batch, type index) of a captured request path, or None."""
    p = path.split("?")[0]
    if p in ("/v1/batch", "/v1/b", "/beacon/v1/batch"):
        return (False, True, 0)
    if p == "/batch/":
        return (True, True, 0)
    if p in ("/e/", "/i/v0/e/"):
        return (True, False, 0)
    last = p.rstrip("/").split("/")[-1]
    if p.startswith("/v1/") and last in SHORT:
        return (False, False, SHORT[last])
    if (p.startswith("/v1/") or p.startswith("/api/s/")) and last in TYPES:
        return (False, False, TYPES.index(last))
    return None


class Writer:
    def __init__(self, name):
        self.dir = os.path.join(HERE, "corpus", name)
        os.makedirs(self.dir, exist_ok=True)
        self.seen = set()

    def add(self, label, data):
        if isinstance(data, str):
            data = data.encode()
        h = hashlib.sha1(data).hexdigest()[:10]
        if h in self.seen:
            return
        self.seen.add(h)
        with open(os.path.join(self.dir, "seed-%s-%s" % (label, h)), "wb") as f:
            f.write(data)


def captures(ingest, scan, cap_dir):
    n = 0
    for path in sorted(glob.glob(os.path.join(cap_dir, "*.json"))):
        if path.endswith("index.json"):
            continue
        client = os.path.basename(path)[:-5]
        if "retry" in client or "forever" in client:
            continue  # the same bodies again
        doc = json.load(open(path))
        for req in doc.get("requests", [])[:8]:
            body = (req.get("body") or {}).get("text") or ""
            r = route_of(req.get("path", ""))
            if req.get("method") != "POST" or not body or r is None or len(body) > 16000:
                continue
            h = {k.lower(): v for k, v in req.get("headers", {}).items()}
            posthog, batch, t = r
            gz = (req.get("body") or {}).get("decompressed") == "gzip"
            enc = (ENC_GZIP_HEADER if h.get("content-encoding") else ENC_GZIP_MAGIC) if gz else ENC_NONE
            opts = opts_byte(enc, MODE_ANON, headers=True, take=(len(body) % 2 == 1))
            ingest.add(client, ingest_input(route_byte(posthog, batch, t), opts, body,
                                            ua=h.get("user-agent"), ip="203.0.113.%d" % (len(client) * 7 % 250),
                                            sent_at=h.get("sentat")))
            scan.add(client, body)
            n += 1
    return n


def journey_js_batch():
    """A journey.js batch as docs/protocol.md describes it."""
    ctx = {
        "sessionId": "1795600000000-k3j4",
        "page": {"path": "/apply/income", "url": "https://loans.example/apply/income?step=2",
                 "title": "Income", "referrer": "https://www.google.com/", "search": "?step=2"},
        "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                     "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        "library": {"name": "journey.js", "version": "1.0.0"},
        "screen": {"width": 390, "height": 844}, "locale": "en-GB", "timezone": "Europe/London",
        "ip": "203.0.113.7",
    }
    common = {"anonymousId": "5b0e8f0c-3f7e-4a57-9a3c-1f3d1c5e9a10",
              "originalTimestamp": "2026-11-25T09:46:39.100Z", "sentAt": "2026-11-25T09:46:39.300Z",
              "context": ctx}
    msgs = [
        dict(common, type="page", messageId="m-1", name="Income",
             properties={"path": "/apply/income", "url": "https://loans.example/apply/income",
                         "title": "Income", "referrer": "", "search": ""}),
        dict(common, type="track", messageId="m-2", event="$click",
             properties={"selector": "form#apply > button.next", "text": "Next", "tag": "button",
                         "x": 120, "y": 640, "interactive": True, "disabled": False}),
        dict(common, type="track", messageId="m-3", event="$field_invalid",
             properties={"form": "apply", "field": "income", "field_type": "number",
                         "reason": "rangeUnderflow", "source": "native"}),
        dict(common, type="track", messageId="m-4", event="$js_error",
             properties={"message": "TypeError: x is undefined", "source": "https://loans.example/app.js",
                         "line": 12, "column": 7, "stack": "at f (app.js:12:7)", "kind": "error"}),
        dict(common, type="identify", messageId="m-5", userId="u-42", traits={"plan": "pro"}),
    ]
    return {"batch": msgs, "sentAt": "2026-11-25T09:46:39.300Z", "writeKey": "wk_test"}


def hand_written(ingest, scan):
    seg_batch = route_byte(False, True)
    ph_batch = route_byte(True, True)
    ph_single = route_byte(True, False)
    jb = journey_js_batch()
    body = json.dumps(jb, separators=(",", ":"))
    for mode in (MODE_ANON, MODE_FULL, MODE_NONE):
        ingest.add("journeyjs", ingest_input(seg_batch, opts_byte(ENC_NONE, mode), body))
    ingest.add("journeyjs-gzip", ingest_input(seg_batch, opts_byte(ENC_GZIP_MAGIC), body))
    ingest.add("journeyjs-zlib", ingest_input(seg_batch, opts_byte(ENC_ZLIB), body))
    ingest.add("journeyjs-deflate", ingest_input(seg_batch, opts_byte(ENC_RAW_DEFLATE_HERE), body))
    ingest.add("journeyjs-br", ingest_input(seg_batch, opts_byte(ENC_BR), body))
    ingest.add("journeyjs-headers", ingest_input(
        seg_batch, opts_byte(ENC_NONE, MODE_ANON, headers=True), body,
        ua="Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile Safari/537.36",
        ip="2001:db8:85a3::8a2e:370:7334", sent_at="2026-11-25T09:46:39.300Z"))
    scan.add("journeyjs", json.dumps(jb, indent=1))

    # Single messages on each Segment route, with the type from the route.
    one = {"userId": "u-1", "event": "Signed Up", "name": "Home", "groupId": "g-1",
           "previousId": "anon-1", "properties": {"plan": "pro", "path": "/home"},
           "context": {"ip": "::ffff:198.51.100.9", "page": {"url": "https://x.test/a/b?c#d"}},
           "timestamp": "2026-11-24T02:05:33+01:00"}
    for t in range(6):
        ingest.add("segment-" + TYPES[t], ingest_input(route_byte(False, False, t), opts_byte(),
                                                        json.dumps(one)))

    # Edge cases of the body and of messages.
    cases = [
        ("dup-context", seg_batch, '{"batch":[{"type":"track","event":"E","userId":"u",'
                                   '"context":{"ip":"203.0.113.7","ip":"203.0.113.8"},'
                                   '"context":{"userAgent":"curl/8"}}]}'),
        ("escaped-keys", seg_batch, '{"b\\u0061tch":[],"batch":[{"\\u0074ype":"track","event":"E",'
                                    '"\\u0075serId":42,"c\\u006fntext":{"\\u0069p":"10.1.2.3"}}]}'),
        ("times", seg_batch, '{"sentAt":"2026-11-25T09:46:40Z","batch":[{"type":"page","anonymousId":"a",'
                             '"originalTimestamp":"2026-11-25T09:46:30.5Z"},{"type":"track","event":"E",'
                             '"anonymousId":"a","timestamp":"2030-01-01T00:00:00Z"},{"type":"track",'
                             '"event":"E","anonymousId":"a","sentAt":"1970-01-01T00:00:00Z",'
                             '"originalTimestamp":"2026-02-29T00:00:00Z"}]}'),
        ("bad-messages", seg_batch, '{"batch":[1,"x",{"type":"nope"},{"type":"track"},'
                                    '{"type":"track","event":"E"},{"type":"group","userId":"u"},'
                                    '{"type":"alias","userId":"u"},{"type":"track","event":"E",'
                                    '"userId":"\\ud800"},{"type":"track","event":"E","userId":"\\u0000"},'
                                    '{"type":"track","event":"E","userId":"a\x01b"},'
                                    '{"type":"track","event":5,"userId":"u"},'
                                    '{"type":"track","event":"E","userId":1e999},'
                                    '{"type":"track","event":"E","userId":[],"context":7}]}'),
        ("deep", seg_batch, '{"batch":[{"type":"track","event":"E","userId":"u","properties":'
                            + '{"a":' * 70 + '1' + '}' * 70 + '}]}'),
        ("bom-trailing", seg_batch, '\ufeff {"batch":[]} '),
        ("trailing", seg_batch, '{"batch":[]} x'),
        ("nul", seg_batch, '{"batch":[]}\x00'),
        ("not-object", seg_batch, '[{"type":"track"}]'),
        ("posthog-array", ph_single, '[{"event":"$pageview","distinct_id":"d","properties":'
                                     '{"$current_url":"https://x.test/p?q=1","$device_id":"dev",'
                                     '"$session_id":"s-1","$ip":"203.0.113.99","token":"phc_x",'
                                     '"title":"P"},"offset":1500},{"event":"$screen","distinct_id":7,'
                                     '"properties":{"$pathname":"/s","$is_identified":true}}]'),
        ("posthog-historical", ph_batch, '{"api_key":"phc_x","historical_migration":true,'
                                         '"sent_at":"2026-11-25T09:46:40Z","batch":[{"event":"e",'
                                         '"distinct_id":"d","timestamp":"2020-01-01T00:00:00Z",'
                                         '"properties":{"$ip":"2001:db8::1","$ip":"10.0.0.1"}}]}'),
        ("posthog-offset", ph_single, '{"event":"e","distinct_id":"d","offset":1e300,'
                                      '"properties":{"$raw_user_agent":"Mozilla/5.0 (iPad) Safari/605"}}'),
        ("invalid-utf8-outside", seg_batch, b'{"k\xff":1,"batch":[]}'),
        ("invalid-utf8-inside", seg_batch, b'{"batch":[{"type":"track","event":"\xc3\x28","userId":"u"}]}'),
        ("big-message", seg_batch, '{"batch":[{"type":"track","event":"E","userId":"u","properties":'
                                   '{"pad":"' + "x" * 4200 + '"}}]}'),
        ("many", seg_batch, '{"batch":[' + ",".join(['{"type":"track","event":"E","userId":"u"}'] * 65)
                            + ']}'),
    ]
    for label, route, body in cases:
        ingest.add(label, ingest_input(route, opts_byte(), body))
        scan.add(label, body)
    ingest.add("gzip-garbage", ingest_input(seg_batch, opts_byte(ENC_RAW_GZIP), b"\x1f\x8b\x08\x00garbage"))
    ingest.add("deflate-raw", ingest_input(seg_batch, opts_byte(ENC_RAW_DEFLATE), b"\x78\x9c\x03\x00"))
    ingest.add("header-lines", ingest_input(
        ph_single, opts_byte(ENC_NONE, MODE_NONE, headers=True),
        '{"event":"e","distinct_id":"d","timestamp":"2026-11-25T09:46:00Z"}',
        ua="Googlebot/2.1", ip="[fe80::1%eth0]", sent_at="2026-11-25T09:46:39+00:00"))

    # json_scan only: the scanner's own edge cases, and the deep mode.
    for label, text in [
        ("numbers", '[0,-0,1.5,-1e5,2E+3,3e-2,123456789012345678901234567890123456789012345678901234567890123456789]'),
        ("strings", '["\\"\\\\\\/\\b\\f\\n\\r\\t","\\u00e9\\uD83D\\uDE00","\\ud800x","\\udc00","a\x01b","\\u0000"]'),
        ("nested", '{"a":{"b":[{"c":[[[]]]},{}]},"a":null," ":true}'),
        ("long-string", '"' + "abcdefghijklmnop" * 5 + '\\n' + "q" * 40 + '"'),
    ]:
        scan.add(label, text)
    scan.add("deep-mode", b"\x00\x00\xd5\x05" + b'{"a":[1,{"b":"\\u00e9"}]}')
    scan.add("deep-mode-bad", b"\x00\x00\xd5\x0f" + b'[1,]')


def config_seeds(w):
    conf = os.path.join(ROOT, "journey.conf")
    if os.path.exists(conf):
        w.add("journey-conf", open(conf, "rb").read())
    w.add("values", "listen = 0.0.0.0:0\ndata = \"/tmp/x y\"\nhttp_threads = 4\n"
                    "connection_timeout = 500ms\nmax_message_bytes = 64KB\nmax_request_bytes = 1mib\n"
                    "dedup_window = 7d\nip_mode = none\ntrust-proxy = yes\nsynchronous = off\n"
                    "sqlite_cache = 1G\nlog_level = debug\n  # comment\n\n")
    w.add("errors", "session_timeout = 10\n")
    w.add("range", "engine_workers = 65\n")
    w.add("overflow", "dedup_window = 99999999999999999999d\n")
    w.add("long-line", "web_root = " + "x" * 4100 + "\n")
    w.add("no-newline", "demo = true")


def settings_seeds(w):
    w.add("defaults", "{}")
    w.add("doc-defaults", """{
  "rules": [
    {"name": "high-risk", "when": {"risk_gte": 75},
     "action": {"type": "live_chat_offer", "title": "Need help?",
                "message": "It looks like {{field|this page}} is giving you trouble. Would you like to chat with someone who can help?"}},
    {"name": "many-signals", "when": {"signals": {"count_gte": 4, "score_gte": 70}},
     "action": {"type": "live_chat_offer", "title": "Need help?", "message": "..."}}
  ],
  "caps": {"session_interval": "10m", "daily_per_visitor": 3, "decline_cooldown": "30m"},
  "holdout_pct": 10,
  "exclude_paths": [],
  "intervention_ttl": "2m",
  "webhook_url": null,
  "goal": null,
  "detectors": {}
}""")
    w.add("rich", json.dumps({
        "rules": [
            {"name": "calc", "when": {"path": ["/calculator*", "/apply/[a-z]*"],
                                       "signal": {"kind": "calculator_retry", "score_gte": 60},
                                       "not": {"converted": True}},
             "action": {"type": "tooltip", "selector": "#income", "text": "Monthly, after tax ({{risk}})"}},
            {"when": {"any": [{"device": "mobile"}, {"trait": {"plan": "pro", "seats": 5, "beta": False}}],
                      "risk_lt": 30},
             "action": {"type": "custom", "name": "offer", "payload": {"discount": 10, "codes": ["A"]}}},
            {"when": {"all": [{"risk_gte": 50}, {"path_not": "/thanks"}]},
             "action": {"type": "priority_route", "message": "{{signal}} on {{page}} in {{form|a form}}"}},
        ],
        "caps": {"session_interval": 60000, "daily_per_visitor": 0, "decline_cooldown": "7d"},
        "holdout_pct": 0, "exclude_paths": ["/admin/*", "/checkout/*"], "intervention_ttl": "5s",
        "webhook_url": "https://hooks.example/journey", "goal": {"event": "Application Submitted"},
        "detectors": {"rage_click": {"clicks": 4, "window_ms": 800, "radius_px": 40},
                      "long_dwell": {"bound_ms": 60000, "min_samples": 20},
                      "js_error": {"enabled": False}, "quick_back": {"ratio": 0.25},
                      "scroll_thrash": {"reversals": 6, "ratio": 2.5},
                      "video_abandon": {"ratio": 0.5, "min_watch_ms": 0, "min_duration_s": 30}},
    }))
    w.add("goal-path", '{"goal": {"path": "/demo/thanks.html"}, "rules": []}')
    w.add("bad-field", '{"rules": [{"when": {"risk_gte": 101}, "action": {"type": "tooltip"}}]}')
    w.add("unknown", '{"rulez": []}')
    w.add("huge-ttl", '{"intervention_ttl": 1e300}')
    w.add("nested", '{"rules":[{"when":' + '{"not":' * 40 + '{"risk_gte":1}' + '}' * 40
          + ',"action":{"type":"live_chat_offer"}}]}')


def main():
    cap_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "fixtures",
                                                                  "client-captures")
    ingest, scan = Writer("ingest"), Writer("json_scan")
    n = captures(ingest, scan, cap_dir) if os.path.isdir(cap_dir) else 0
    hand_written(ingest, scan)
    config_seeds(Writer("config"))
    settings_seeds(Writer("settings"))
    print("captured requests: %d; ingest seeds: %d, json_scan seeds: %d" % (n, len(ingest.seen),
                                                                          len(scan.seen)))


if __name__ == "__main__":
    main()
