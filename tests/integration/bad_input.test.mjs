// Bad input against the real server, as a table (docs/ingest.md: "Bodies", "Limits",
// "Answers", "Message validation", "Dead letters"). Each row sends one request and
// checks three things:
//   - the answer: status and JSON body (error code, field, byte position; for a 200
//     the per-message errors), with X-Request-Id equal to the body's request_id;
//   - the events rows: which of the row's messages are stored (exactly once);
//   - the dead_letters rows of that request: kind, reason, field, and the raw bytes.
// Then the dead-letter CLI: `journey deadletters list` and `replay`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, deflateSync, deflateRawSync } from 'node:zlib';
import { startServer, Server, uuid, sqlString, cliResult } from './lib/journey.mjs';

let j;
before(async () => { j = await startServer(); });
after(async () => { await j.stop(); j.cleanup(); });

// ---- building blocks ------------------------------------------------------------

const b = (...parts) => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const track = (over = {}) => ({ type: 'track', event: 'Bad Input', userId: 'u-bad', messageId: `bi-${uuid()}`, ...over });
const batchOf = (...msgs) => b('{"batch":[', ...msgs.flatMap((m, i) => [i ? ',' : '', typeof m === 'string' || Buffer.isBuffer(m) ? m : JSON.stringify(m)]), ']}');
const nestObjects = (n, leaf = '1') => '{"a":'.repeat(n) + leaf + '}'.repeat(n);
const nestArrays = (n) => '['.repeat(n) + ']'.repeat(n);
// A message (as bytes) whose properties value is `props` (raw JSON text).
const rawMessage = (props, id = `bi-${uuid()}`) => `{"type":"track","event":"Raw","userId":"u-bad","messageId":"${id}","properties":${props}}`;
const idOf = (m) => (typeof m === 'object' && !Buffer.isBuffer(m) ? m.messageId : /"messageId":"([^"]+)"/.exec(m.toString('latin1'))[1]);

let bomb;
function gzipBomb() {
  // 100 MB of zeros: about 100 KB gzipped, far under the 500 KB body limit as received.
  bomb ??= gzipSync(Buffer.alloc(100 * 1024 * 1024));
  return bomb;
}

// ---- the checker ----------------------------------------------------------------

async function check(row) {
  const r = row.make();
  row.last = r;
  const headers = { 'Content-Type': 'application/json', ...(r.headers || {}) };
  if (r.key !== null && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    headers.Authorization = j.auth(r.key ?? j.writeKey);
  }
  const res = await j.request(r.path ?? '/v1/batch', {
    method: r.method ?? 'POST', headers, body: r.body, chunked: r.chunked, unfinished: r.unfinished,
    timeout: 20000,
  });
  const e = r.expect;
  const where = `${row.name}: ${res.status} ${res.text.slice(0, 400)}`;

  assert.equal(res.status, e.status, where);
  assert.ok(res.json && typeof res.json === 'object', `${where}: a JSON body`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, where);
  const requestId = res.headers['x-request-id'];
  assert.ok(requestId, 'X-Request-Id');
  assert.equal(res.json.request_id, requestId, where);
  if (e.allow) assert.match(res.headers.allow ?? '', e.allow, `${where}: Allow`);

  if (e.status >= 400) {
    assert.equal(res.json.success, false, where);
    assert.equal(res.json.error.code, e.code, where);
    assert.equal(typeof res.json.error.message, 'string');
    if ('field' in e) assert.equal(res.json.error.field, e.field, `${where}: field`);
    if ('position' in e) assert.equal(res.json.error.position, e.position, `${where}: position`);
  } else {
    assert.equal(res.json.success, true, where);
    const errors = e.errors ?? [];
    assert.equal(res.json.rejected, errors.length, where);
    assert.equal(res.json.accepted, (r.stored ?? []).length, where);
    assert.equal(res.json.duplicates, 0, where);
    const got = (res.json.errors ?? []).map((x, i) => {
      const want = errors[i] ?? {};
      const o = { index: x.index, code: x.code };
      if ('field' in want) o.field = x.field;
      return o;
    });
    assert.deepEqual(got, errors, `${where}: errors`);
    for (const x of res.json.errors ?? []) assert.equal(typeof x.message, 'string');
    assert.equal(Boolean(res.json.dead_lettered), errors.length > 0, where);
  }

  const ids = [...(r.stored ?? []), ...(r.notStored ?? [])];
  const counts = new Map();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500).map(sqlString).join(',');
    for (const x of j.query(`SELECT message_id AS id, count(*) AS n FROM events WHERE message_id IN (${chunk}) GROUP BY 1`)) counts.set(x.id, x.n);
  }
  for (const id of r.stored ?? []) assert.equal(counts.get(id), 1, `${row.name}: ${id} stored once`);
  for (const id of r.notStored ?? []) assert.equal(counts.get(id), undefined, `${row.name}: ${id} not stored`);

  const dead = j.query(`SELECT kind, reason, field, hex(raw) AS raw, context FROM dead_letters WHERE request_id = ${sqlString(requestId)} ORDER BY id`);
  const want = e.dead ?? [];
  assert.deepEqual(dead.map((d, i) => {
    const o = { kind: d.kind, reason: d.reason };
    if (want[i] && 'field' in want[i]) o.field = d.field;
    return o;
  }), want.map(({ raw, ...rest }) => rest), `${row.name}: dead letters`);
  want.forEach((w, i) => {
    if (w.raw) assert.equal(dead[i].raw, Buffer.from(w.raw).toString('hex').toUpperCase(), `${row.name}: dead letter ${i} keeps the exact bytes`);
  });
  if (row.after) await row.after(res, dead, r);
}

// ---- the table ------------------------------------------------------------------

const rows = [
  {
    name: 'malformed JSON is 400 invalid_json with the byte position; the body is kept as a request dead letter',
    make() {
      const body = '{"batch":[{"type":"track",}]}';
      return { body, expect: { status: 400, code: 'invalid_json', position: body.indexOf(',}') + 1, dead: [{ kind: 'request', reason: 'invalid_json', raw: body }] } };
    },
  },
  {
    name: 'truncated gzip is 400 invalid_encoding, kept as a request dead letter',
    make() {
      const m = track();
      const gz = gzipSync(JSON.stringify({ batch: [m] })).subarray(0, 30);
      return { body: gz, headers: { 'Content-Encoding': 'gzip' }, notStored: [m.messageId],
        expect: { status: 400, code: 'invalid_encoding', dead: [{ kind: 'request', reason: 'invalid_encoding', raw: gz }] } };
    },
  },
  {
    name: 'corrupt gzip recognised by its magic bytes alone is 400 invalid_encoding',
    make() {
      const body = b([0x1f, 0x8b, 0x08, 0x00], 'definitely not deflate data');
      return { body, headers: { 'Content-Type': 'text/plain' }, expect: { status: 400, code: 'invalid_encoding', dead: [{ kind: 'request', reason: 'invalid_encoding', raw: body }] } };
    },
  },
  {
    name: 'a gzip bomb (100 MB of zeros, Content-Encoding gzip) is 413 body_too_large, nothing stored',
    make() {
      return { body: gzipBomb(), headers: { 'Content-Encoding': 'gzip' }, expect: { status: 413, code: 'body_too_large', dead: [] } };
    },
    async after() { assert.equal((await j.get('/healthz')).status, 200); },
  },
  {
    name: 'the same bomb labelled as form data (gzip by magic bytes) is 413 too',
    make() {
      return { body: gzipBomb(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, expect: { status: 413, code: 'body_too_large', dead: [] } };
    },
  },
  {
    name: 'an oversize message inside a batch is dead-lettered with its bytes; its neighbours are stored; 200',
    make() {
      const [a, big, c] = [track(), track({ properties: { pad: 'x'.repeat(40 * 1024) } }), track()];
      return { body: batchOf(a, big, c), stored: [a.messageId, c.messageId], notStored: [big.messageId],
        expect: { status: 200, errors: [{ index: 1, code: 'message_too_large', field: 'batch[1]' }],
          dead: [{ kind: 'message', reason: 'message_too_large', field: 'batch[1]', raw: JSON.stringify(big) }] } };
    },
  },
  {
    name: 'an oversize message on a single-message route: 200 with the error listed, dead-lettered',
    make() {
      const big = track({ properties: { pad: 'x'.repeat(40 * 1024) } });
      delete big.type;
      return { path: '/v1/track', body: JSON.stringify(big), notStored: [big.messageId],
        expect: { status: 200, errors: [{ index: 0, code: 'message_too_large' }], dead: [{ kind: 'message', reason: 'message_too_large', raw: JSON.stringify(big) }] } };
    },
  },
  {
    name: 'a request over 500 KB is 413 body_too_large, nothing stored, nothing kept',
    make() {
      const msgs = Array.from({ length: 20 }, () => track({ properties: { pad: 'y'.repeat(30 * 1024) } }));
      return { body: batchOf(...msgs), notStored: msgs.map((m) => m.messageId), expect: { status: 413, code: 'body_too_large', dead: [] } };
    },
  },
  {
    // A client that asks first (Expect: 100-continue) is answered from the headers.
    name: 'Expect: 100-continue with a Content-Length over 500 KB: 413 before the body is sent',
    make() {
      return { headers: { 'Content-Length': String(600 * 1024), Expect: '100-continue' }, body: '{"batch":[', unfinished: true, expect: { status: 413, code: 'body_too_large', dead: [] } };
    },
  },
  {
    // Without Expect, a body up to 4x the limit is read and discarded before the 413, so that
    // a client still writing reads the answer instead of a reset (the row above the previous);
    // a Content-Length beyond that is answered from the headers and the connection closed.
    name: 'a Content-Length over 4 x 500 KB is answered 413 from the headers',
    make() {
      return { headers: { 'Content-Length': String(2100 * 1024) }, body: '{"batch":[', unfinished: true, expect: { status: 413, code: 'body_too_large', dead: [] } };
    },
  },
  {
    name: 'a body over 500 KB streamed without Content-Length (chunked) is 413',
    make() {
      const msgs = Array.from({ length: 20 }, () => track({ properties: { pad: 'z'.repeat(30 * 1024) } }));
      return { body: batchOf(...msgs), chunked: true, notStored: msgs.map((m) => m.messageId), expect: { status: 413, code: 'body_too_large', dead: [] } };
    },
  },
  {
    name: 'a small chunked body (no Content-Length) is read and stored',
    make() {
      const m = track();
      return { body: batchOf(m), chunked: true, stored: [m.messageId], expect: { status: 200 } };
    },
  },
  {
    name: '2,501 messages in one batch is 413 too_many_messages, nothing stored',
    make() {
      const msgs = Array.from({ length: 2501 }, (_, i) => ({ type: 'track', event: 'E', userId: 'u', messageId: `many-${i}-${uuid()}` }));
      return { body: batchOf(...msgs), notStored: [msgs[0].messageId, msgs[2500].messageId],
        expect: { status: 413, code: 'too_many_messages', field: 'batch', dead: [] } };
    },
  },
  {
    name: '2,500 messages in one batch (the limit) are all stored',
    make() {
      const msgs = Array.from({ length: 2500 }, (_, i) => ({ type: 'track', event: 'E', userId: 'u', messageId: `limit-${i}-${uuid()}` }));
      return { body: batchOf(...msgs), stored: msgs.map((m) => m.messageId), expect: { status: 200 } };
    },
  },
  {
    name: 'wrong field types: each message dead-lettered wrong_type/invalid_type/missing_field with its path; the good one stored',
    make() {
      const bad = [
        track({ properties: [1, 2] }), track({ event: 5 }), track({ context: { ip: 5 } }), track({ context: 'x' }),
        track({ traits: 'plan=pro' }), track({ integrations: [] }), track({ context: { page: 'home' } }),
        track({ context: { traits: 7 } }), track({ context: { userAgent: {} } }), track({ context: { page: { path: 1 } } }),
        track({ context: { page: { url: false } } }), track({ type: 'page', name: 7 }), track({ type: 'page', category: [] }),
        track({ userId: { id: 1 } }), track({ anonymousId: ['a'], userId: undefined }), track({ timestamp: 1700000000000 }),
        track({ originalTimestamp: true }), track({ type: 'bogus' }), track({ type: undefined }), track({ type: 5 }),
      ];
      const good = track({ userId: 42 }); // ids may be numbers
      const fields = ['properties', 'event', 'context.ip', 'context', 'traits', 'integrations', 'context.page', 'context.traits',
        'context.userAgent', 'context.page.path', 'context.page.url', 'name', 'category', 'userId', 'anonymousId', 'timestamp',
        'originalTimestamp', 'type', 'type', 'type'];
      const codes = fields.map((f, i) => (i === 17 ? 'invalid_type' : i === 18 ? 'missing_field' : 'wrong_type'));
      const errors = fields.map((f, i) => ({ index: i, code: codes[i], field: `batch[${i}].${f}` }));
      // Exact bytes, but for context.ip: dead letters obey ip_mode (a non-IP there is not kept).
      return { body: batchOf(...bad, good), stored: [good.messageId], notStored: bad.map((m) => m.messageId),
        expect: { status: 200, errors, dead: errors.map((x, i) => ({ kind: 'message', reason: x.code, field: x.field, ...(i === 2 ? {} : { raw: JSON.stringify(bad[i]) }) })) } };
    },
  },
  {
    name: 'a batch message that is not an object is dead-lettered not_an_object',
    make() {
      const good = track();
      return { body: batchOf('1', '"text"', 'null', '[]', good), stored: [good.messageId],
        expect: { status: 200, errors: [0, 1, 2, 3].map((i) => ({ index: i, code: 'not_an_object', field: `batch[${i}]` })),
          dead: ['1', '"text"', 'null', '[]'].map((raw, i) => ({ kind: 'message', reason: 'not_an_object', field: `batch[${i}]`, raw })) } };
    },
  },
  {
    name: 'missing ids: userId/anonymousId absent, null or "" are all missing_id; a numeric 0 is an id',
    make() {
      const bad = [
        track({ userId: undefined }), track({ userId: null }), track({ userId: '' }),
        track({ userId: null, anonymousId: null }), track({ userId: '', anonymousId: '' }), track({ userId: undefined, anonymousId: '' }),
      ];
      const good = [track({ userId: undefined, anonymousId: 'anon-1' }), track({ userId: 0 })];
      return { body: batchOf(...bad, ...good), stored: good.map((m) => m.messageId), notStored: bad.map((m) => m.messageId),
        expect: { status: 200, errors: bad.map((m, i) => ({ index: i, code: 'missing_id' })), dead: bad.map((m) => ({ kind: 'message', reason: 'missing_id', raw: JSON.stringify(m) })) } };
    },
    after(res) { for (const x of res.json.errors) assert.match(x.field, /^batch\[\d+\]\.(userId|anonymousId)$/); },
  },
  {
    name: 'missing required fields per type: event (track), groupId (group), previousId (alias)',
    make() {
      const bad = [track({ event: undefined }), track({ type: 'group' }), track({ type: 'alias' })];
      const good = [track({ type: 'group', groupId: 'g-1', event: undefined }), track({ type: 'alias', previousId: 'p-1', event: undefined })];
      const fields = ['event', 'groupId', 'previousId'];
      return { body: batchOf(...bad, ...good), stored: good.map((m) => m.messageId), notStored: bad.map((m) => m.messageId),
        expect: { status: 200, errors: fields.map((f, i) => ({ index: i, code: 'missing_field', field: `batch[${i}].${f}` })),
          dead: fields.map((f, i) => ({ kind: 'message', reason: 'missing_field', field: `batch[${i}].${f}` })) } };
    },
  },
  {
    name: 'timestamps that are not ISO-8601 after 1970 are invalid_timestamp',
    make() {
      const bad = [track({ timestamp: 'yesterday' }), track({ originalTimestamp: '1969-12-31T23:59:59Z' }), track({ sentAt: '2024-13-45T99:00:00Z' })];
      const good = track({ timestamp: '2024-05-01T10:00:00.123+02:00' });
      const fields = ['timestamp', 'originalTimestamp', 'sentAt'];
      return { body: batchOf(...bad, good), stored: [good.messageId],
        expect: { status: 200, errors: fields.map((f, i) => ({ index: i, code: 'invalid_timestamp', field: `batch[${i}].${f}` })),
          dead: fields.map(() => ({ kind: 'message', reason: 'invalid_timestamp' })) } };
    },
    after() {
      // Kept as sent: 08:00:00.123Z.
      assert.equal(j.query(`SELECT timestamp FROM events WHERE payload LIKE '%2024-05-01T10:00:00.123+02:00%'`)[0].timestamp, Date.UTC(2024, 4, 1, 8, 0, 0, 123));
    },
  },
  {
    name: 'an id longer than 1,024 characters is field_too_long; 1,024 is fine',
    make() {
      const bad = [track({ userId: 'x'.repeat(1025) }), track({ userId: undefined, anonymousId: 'y'.repeat(1025) })];
      const good = track({ userId: 'z'.repeat(1024) });
      return { body: batchOf(...bad, good), stored: [good.messageId],
        expect: { status: 200, errors: [{ index: 0, code: 'field_too_long', field: 'batch[0].userId' }, { index: 1, code: 'field_too_long', field: 'batch[1].anonymousId' }],
          dead: [{ kind: 'message', reason: 'field_too_long' }, { kind: 'message', reason: 'field_too_long' }] } };
    },
  },
  {
    name: 'validation order: the first failing rule in the documented order is the reason',
    make() {
      const big = 'x'.repeat(40 * 1024);
      const msgs = [
        // message_too_large before invalid_utf8
        b('{"type":"track","event":"', [0xff], `","userId":"u","messageId":"o-${uuid()}","p":"${big}"}`),
        // too_deep before missing_id
        `{"type":"track","event":"e","messageId":"o-${uuid()}","properties":${nestObjects(70)}}`,
        // invalid_utf8 before nul_character
        b('{"type":"track","event":"', [0xff], `\\u0000","userId":"u","messageId":"o-${uuid()}"}`),
        // control_character before nul_character
        `{"type":"track","event":"a\u0001\\u0000","userId":"u","messageId":"o-${uuid()}"}`,
        // nul_character before missing_id
        `{"type":"track","event":"a\\u0000","messageId":"o-${uuid()}"}`,
        // missing type before wrong_type
        JSON.stringify({ properties: [], userId: 'u', messageId: `o-${uuid()}` }),
        // wrong_type (an object field) before missing_id
        JSON.stringify({ type: 'track', event: 'e', context: 'x', messageId: `o-${uuid()}` }),
        // missing_id before missing_field event
        JSON.stringify({ type: 'track', messageId: `o-${uuid()}` }),
        // missing_field event before invalid_timestamp
        JSON.stringify({ type: 'track', userId: 'u', timestamp: 'x', messageId: `o-${uuid()}` }),
      ];
      const codes = ['message_too_large', 'too_deep', 'invalid_utf8', 'control_character', 'nul_character', 'missing_field', 'wrong_type', 'missing_id', 'missing_field'];
      return { body: batchOf(...msgs), expect: { status: 200, errors: codes.map((code, index) => ({ index, code })),
        dead: codes.map((reason, i) => ({ kind: 'message', reason, raw: msgs[i] })) } };
    },
  },
  {
    name: 'validation order: wrong_type of a string field before missing_id; field_too_long last',
    make() {
      const msgs = [
        JSON.stringify({ type: 'track', event: 5, messageId: `o-${uuid()}` }), // wrong_type event, then missing_id
        JSON.stringify({ type: 'track', event: 'e', timestamp: 5, messageId: `o-${uuid()}` }), // wrong_type timestamp, then missing_id
        JSON.stringify({ type: 'track', userId: 'u'.repeat(2000), messageId: `o-${uuid()}` }), // missing_field event, then field_too_long
        JSON.stringify({ type: 'track', event: 'e', userId: 'u'.repeat(2000), timestamp: 'bad', messageId: `o-${uuid()}` }), // invalid_timestamp, then field_too_long
      ];
      const errors = [
        { index: 0, code: 'wrong_type', field: 'batch[0].event' },
        { index: 1, code: 'wrong_type', field: 'batch[1].timestamp' },
        { index: 2, code: 'missing_field', field: 'batch[2].event' },
        { index: 3, code: 'invalid_timestamp', field: 'batch[3].timestamp' },
      ];
      return { body: batchOf(...msgs), expect: { status: 200, errors, dead: errors.map((x, i) => ({ kind: 'message', reason: x.code, raw: msgs[i] })) } };
    },
  },
  {
    name: 'an empty body is 400 empty_body and not kept',
    make() { return { body: '', expect: { status: 400, code: 'empty_body', dead: [] } }; },
  },
  {
    name: 'a body that is not an object is 400, kept as a request dead letter',
    make() { return { body: '[1,2]', expect: { status: 400, code: 'wrong_type', dead: [{ kind: 'request', reason: 'wrong_type', raw: '[1,2]' }] } }; },
  },
  {
    name: 'batch missing is 400 missing_field batch',
    make() { return { body: '{"sentAt":"2024-01-01T00:00:00Z"}', expect: { status: 400, code: 'missing_field', field: 'batch', dead: [{ kind: 'request', reason: 'missing_field' }] } }; },
  },
  {
    name: 'batch not an array is 400 wrong_type batch',
    make() { return { body: '{"batch":{"type":"track"}}', expect: { status: 400, code: 'wrong_type', field: 'batch', dead: [{ kind: 'request', reason: 'wrong_type' }] } }; },
  },
  {
    name: 'invalid UTF-8 inside one message: that message dead-lettered with its exact bytes, the others stored',
    make() {
      const [a, c] = [track({ event: 'caf\u00e9 \u{1F600}' }), track()];
      const badMsgs = [
        b('{"type":"track","event":"', [0xff, 0xfe], `","userId":"u","messageId":"u8-${uuid()}"}`), // not UTF-8 at all
        b('{"type":"track","event":"', [0xc0, 0xaf], `","userId":"u","messageId":"u8-${uuid()}"}`), // overlong '/'
        b('{"type":"track","event":"', [0xed, 0xa0, 0x80], `","userId":"u","messageId":"u8-${uuid()}"}`), // a UTF-16 surrogate
        b('{"type":"track","event":"', [0xf4, 0x90, 0x80, 0x80], `","userId":"u","messageId":"u8-${uuid()}"}`), // past U+10FFFF
        b('{"type":"track","event":"', [0xe2, 0x82], `","userId":"u","messageId":"u8-${uuid()}"}`), // truncated sequence
      ];
      return { body: batchOf(a, ...badMsgs, c), stored: [a.messageId, c.messageId], notStored: badMsgs.map(idOf),
        expect: { status: 200, errors: badMsgs.map((m, i) => ({ index: i + 1, code: 'invalid_utf8', field: `batch[${i + 1}]` })),
          dead: badMsgs.map((raw) => ({ kind: 'message', reason: 'invalid_utf8', raw })) } };
    },
    after() { assert.equal(j.query(`SELECT event FROM events WHERE event LIKE 'caf%'`)[0].event, 'caf\u00e9 \u{1F600}'); },
  },
  {
    name: 'invalid UTF-8 outside any message is 400 invalid_utf8 with its position',
    make() {
      const body = b('{"batch":[],"x', [0xff], '":1}');
      return { body, expect: { status: 400, code: 'invalid_utf8', position: 14, dead: [{ kind: 'request', reason: 'invalid_utf8', raw: body }] } };
    },
  },
  {
    name: 'a raw NUL byte between tokens is 400 invalid_json at its position',
    make() {
      const m = track();
      const body = b('{"batch":[', JSON.stringify(m), ',', [0], JSON.stringify(track()), ']}');
      return { body, notStored: [m.messageId], expect: { status: 400, code: 'invalid_json', position: body.indexOf(0), dead: [{ kind: 'request', reason: 'invalid_json', raw: body }] } };
    },
  },
  {
    name: 'a raw NUL byte inside a string is a raw control character: that message dead-lettered',
    make() {
      const good = track();
      const bad = b('{"type":"track","event":"a', [0], `b","userId":"u","messageId":"nul-${uuid()}"}`);
      return { body: batchOf(bad, good), stored: [good.messageId], notStored: [idOf(bad)],
        expect: { status: 200, errors: [{ index: 0, code: 'control_character', field: 'batch[0]' }], dead: [{ kind: 'message', reason: 'control_character', raw: bad }] } };
    },
  },
  {
    name: '\\u0000 inside a string: that message dead-lettered nul_character, the others stored',
    make() {
      const [a, bad, c] = [track(), track({ properties: { note: 'a\u0000b' } }), track()];
      return { body: batchOf(a, bad, c), stored: [a.messageId, c.messageId], notStored: [bad.messageId],
        expect: { status: 200, errors: [{ index: 1, code: 'nul_character', field: 'batch[1]' }], dead: [{ kind: 'message', reason: 'nul_character', raw: JSON.stringify(bad) }] } };
    },
  },
  {
    name: 'a raw control character inside a string is control_character',
    make() {
      const bad = `{"type":"track","event":"tab\there","userId":"u","messageId":"ctl-${uuid()}"}`;
      return { body: batchOf(bad), notStored: [idOf(bad)], expect: { status: 200, errors: [{ index: 0, code: 'control_character' }], dead: [{ kind: 'message', reason: 'control_character', raw: bad }] } };
    },
  },
  {
    name: 'nesting: 64 levels are fine, 65 and 100 are too_deep',
    make() {
      // The message itself is level 1, so properties with n nested objects reach n + 1.
      const ok = rawMessage(nestObjects(63));
      const over = rawMessage(nestObjects(64));
      const deep = rawMessage(nestObjects(100));
      return { body: batchOf(ok, over, deep), stored: [idOf(ok)], notStored: [idOf(over), idOf(deep)],
        expect: { status: 200, errors: [{ index: 1, code: 'too_deep', field: 'batch[1]' }, { index: 2, code: 'too_deep', field: 'batch[2]' }],
          dead: [{ kind: 'message', reason: 'too_deep', raw: over }, { kind: 'message', reason: 'too_deep', raw: deep }] } };
    },
  },
  {
    name: '10,000 levels deep: dead-lettered too_deep, no crash, neighbours stored',
    make() {
      const good = track();
      const deep = rawMessage(`{"x":${nestArrays(10000)}}`);
      return { body: batchOf(good, deep), stored: [good.messageId], notStored: [idOf(deep)],
        expect: { status: 200, errors: [{ index: 1, code: 'too_deep', field: 'batch[1]' }], dead: [{ kind: 'message', reason: 'too_deep', raw: deep }] } };
    },
    async after() { assert.equal((await j.get('/healthz')).status, 200); },
  },
  {
    name: 'a message nested 70,000 levels (valid JSON, 140 KB, body under 500 KB) is one bad message: 200, its neighbour stored',
    make() {
      const good = track();
      const deep = rawMessage(`{"x":${nestArrays(70000)}}`);
      // Over 32 KB, so message_too_large is its reason (checked before too_deep).
      return { body: batchOf(good, deep), stored: [good.messageId], notStored: [idOf(deep)],
        expect: { status: 200, errors: [{ index: 1, code: 'message_too_large', field: 'batch[1]' }], dead: [{ kind: 'message', reason: 'message_too_large', raw: deep }] } };
    },
    async after() { assert.equal((await j.get('/healthz')).status, 200); },
  },
  {
    name: 'unclosed nesting 200,000 deep is 400 invalid_json, no crash',
    make() { return { body: '{"batch":[' + '['.repeat(200000), expect: { status: 400, code: 'invalid_json', dead: [{ kind: 'request', reason: 'invalid_json' }] } }; },
    async after() { assert.equal((await j.get('/healthz')).status, 200); },
  },
  {
    name: 'huge and odd numbers are kept byte for byte in the stored payload',
    make() {
      const id = `num-${uuid()}`;
      const msg = `{"type":"track","event":"Numbers","userId":"u","messageId":"${id}","properties":{"big":12345678901234567890,"inf":1e400,"tiny":1E-400,"neg":-0,"exact":0.1000000000000000055511151231257827,"int":-9007199254740993}}`;
      return { body: batchOf(msg), stored: [id], expect: { status: 200 }, msg };
    },
    after(res, dead, r) {
      const stored = j.query(`SELECT payload FROM events WHERE event = 'Numbers'`);
      assert.equal(stored.length, 1);
      assert.equal(stored[0].payload, r.msg);
    },
  },
  {
    name: 'an unknown write key is 401 unknown_write_key and nothing is kept',
    make() { const m = track(); return { key: 'wk_unknown_key', body: batchOf(m), notStored: [m.messageId], expect: { status: 401, code: 'unknown_write_key', dead: [] } }; },
  },
  {
    name: 'a write key in a header is checked before the body is read: 401 without sending the body',
    make() { return { key: 'wk_unknown_key', headers: { 'Content-Length': '5000' }, body: '{"batch":[', unfinished: true, expect: { status: 401, code: 'unknown_write_key', dead: [] } }; },
  },
  {
    name: 'an unknown key in the body is 401 unknown_write_key',
    make() { const m = track(); return { key: null, body: JSON.stringify({ writeKey: 'wk_nope', batch: [m] }), notStored: [m.messageId], expect: { status: 401, code: 'unknown_write_key', dead: [] } }; },
  },
  {
    name: 'no write key anywhere is 401 missing_write_key',
    make() { return { key: null, body: batchOf(track()), expect: { status: 401, code: 'missing_write_key', dead: [] } }; },
  },
  {
    name: 'GET /v1/batch is 405 with Allow',
    make() { return { method: 'GET', key: null, expect: { status: 405, code: 'method_not_allowed', allow: /\bPOST\b/, dead: [] } }; },
  },
  {
    name: 'PUT /v1/track is 405 with Allow',
    make() { return { method: 'PUT', path: '/v1/track', body: JSON.stringify(track()), expect: { status: 405, code: 'method_not_allowed', allow: /\bPOST\b/, dead: [] } }; },
  },
  {
    name: 'an unknown route is 404 with a JSON body (GET and POST)',
    make() { return { path: '/v2/batch', body: batchOf(track()), expect: { status: 404, code: 'not_found', dead: [] } }; },
    async after() {
      const res = await j.get('/no/such/thing');
      assert.equal(res.status, 404);
      assert.equal(res.json.error.code, 'not_found');
    },
  },
  {
    name: 'an unsupported Content-Encoding is 415, the body kept as a request dead letter',
    make() {
      const m = track();
      const body = batchOf(m);
      return { body, headers: { 'Content-Encoding': 'br' }, notStored: [m.messageId],
        expect: { status: 415, code: 'unsupported_encoding', dead: [{ kind: 'request', reason: 'unsupported_encoding', raw: body }] } };
    },
  },
  {
    name: 'trailing garbage after the JSON is 400 invalid_json at its position',
    make() {
      const m = track();
      const json = JSON.stringify({ batch: [m] });
      const body = `${json} {"batch":[]}`;
      return { body, notStored: [m.messageId], expect: { status: 400, code: 'invalid_json', position: json.length + 1, dead: [{ kind: 'request', reason: 'invalid_json', raw: body }] } };
    },
  },
  {
    name: 'every documented encoding is decoded: deflate (zlib and raw), x-gzip, identity, concatenated gzip members, a BOM',
    make() {
      const msgs = Array.from({ length: 6 }, () => track());
      this.msgs = msgs;
      return { body: batchOf(msgs[0]), headers: { 'Content-Encoding': 'identity' }, stored: [msgs[0].messageId], expect: { status: 200 } };
    },
    async after() {
      const [, m1, m2, m3, m4, m5] = this.msgs;
      const sends = [
        [deflateSync(batchOf(m1)), 'deflate', m1],
        [deflateRawSync(batchOf(m2)), 'deflate', m2],
        [gzipSync(batchOf(m3)), 'x-gzip', m3],
        [b(gzipSync(batchOf(m4).subarray(0, 7)), gzipSync(batchOf(m4).subarray(7))), 'gzip', m4],
        [b([0xef, 0xbb, 0xbf], batchOf(m5)), undefined, m5],
      ];
      for (const [body, enc, m] of sends) {
        const res = await j.post('/v1/batch', body, { headers: enc ? { 'Content-Encoding': enc } : {} });
        assert.equal(res.status, 200, `${enc}: ${res.text}`);
        assert.equal(j.countEvents(`message_id = ${sqlString(m.messageId)}`), 1, String(enc));
      }
    },
  },
];

for (const row of rows) {
  test(`bad input: ${row.name}`, row.todo ? { todo: row.todo } : {}, () => check(row));
}

// ---- the dead-letter CLI --------------------------------------------------------

test('journey deadletters list prints every dead letter as a JSON line, raw as text or raw_base64', async () => {
  const res = cliResult(['deadletters', 'list', '--limit', '100000', '--data', j.dataDir]);
  assert.equal(res.status, 0, res.stderr);
  const lines = res.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const db = j.query('SELECT id, kind, reason, field, request_id, route, hex(raw) AS raw FROM dead_letters ORDER BY id');
  assert.ok(db.length >= 40, `${db.length} dead letters made by the table`);
  assert.deepEqual(lines.map((l) => l.id), db.map((d) => d.id));
  let base64 = 0;
  for (const [i, l] of lines.entries()) {
    const d = db[i];
    assert.equal(l.kind, d.kind);
    assert.equal(l.reason, d.reason);
    assert.equal(l.field, d.field);
    assert.equal(l.request_id, d.request_id);
    assert.equal(l.route, d.route);
    assert.equal(l.project_id, j.projectId);
    assert.ok(!Number.isNaN(Date.parse(l.received_at)));
    const bytes = 'raw_base64' in l ? Buffer.from(l.raw_base64, 'base64') : Buffer.from(l.raw, 'utf8');
    assert.equal(bytes.toString('hex').toUpperCase(), d.raw, `dead letter ${d.id} (${d.reason})`);
    if ('raw_base64' in l) {
      base64++;
      assert.ok(!('raw' in l));
    }
  }
  assert.ok(base64 >= 5, 'the invalid UTF-8 ones come as raw_base64');

  const page = cliResult(['deadletters', 'list', '--limit', '2', '--after', String(db[3].id), '--data', j.dataDir]);
  assert.deepEqual(page.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).id), [db[4].id, db[5].id]);
});

// The replay scenario runs on its own data dir: an oversize message is dead-lettered,
// then replayed after raising max_message_bytes.
async function oversizeScenario(t) {
  const s = await startServer();
  t.after(async () => { await s.stop(); s.cleanup(); });
  const big = track({ messageId: `replay-${uuid()}`, properties: { pad: 'r'.repeat(40 * 1024) } });
  const small = track();
  const res = await s.post('/v1/batch', { batch: [small, big] });
  assert.equal(res.status, 200);
  assert.equal(res.json.rejected, 1);
  const [dl] = s.query('SELECT id, received_at FROM dead_letters');
  return { s, big, dl };
}

function assertReplayed(s, big, dl, summary) {
  assert.equal(summary.status, 0, summary.stderr);
  const out = JSON.parse(summary.stdout);
  assert.equal(out.replayed, 1);
  assert.equal(out.events_stored, 1);
  const rows = s.query(`SELECT received_at, payload FROM events WHERE message_id = ${sqlString(big.messageId)}`);
  assert.equal(rows.length, 1, 'stored exactly once');
  assert.equal(rows[0].received_at, dl.received_at, 'with its original receivedAt');
  assert.deepEqual(JSON.parse(rows[0].payload), big);
  const [d] = s.query(`SELECT replayed_at, replay_result, replay_count FROM dead_letters WHERE id = ${dl.id}`);
  assert.ok(d.replayed_at > 0, 'marked replayed');
  assert.equal(d.replay_result, 'replayed');
  // Gone from the default list, still in --all.
  const list = cliResult(['deadletters', 'list', '--data', s.dataDir]).stdout.split('\n').filter(Boolean);
  assert.equal(list.length, 0);
  const all = cliResult(['deadletters', 'list', '--all', '--data', s.dataDir]).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(all.length, 1);
  assert.ok(all[0].replayed_at);
  // Replaying again finds nothing to do.
  const again = JSON.parse(cliResult(['deadletters', 'replay', '--max-message-bytes', '64KB', '--data', s.dataDir]).stdout);
  assert.equal(again.events_stored, 0);
  assert.equal(s.countEvents(`message_id = ${sqlString(big.messageId)}`), 1);
}

test('deadletters replay with the server stopped: the oversize message is stored once and marked replayed', async (t) => {
  const { s, big, dl } = await oversizeScenario(t);
  // Under the old limit it stays rejected, with the reason as its replay result.
  const stillBad = cliResult(['deadletters', 'replay', '--data', s.dataDir]);
  assert.equal(JSON.parse(stillBad.stdout).still_rejected, 1);
  assert.match(s.query(`SELECT replay_result FROM dead_letters WHERE id = ${dl.id}`)[0].replay_result, /^message_too_large/);
  assert.equal(s.countEvents(`message_id = ${sqlString(big.messageId)}`), 0);

  await s.stop();
  assertReplayed(s, big, dl, cliResult(['deadletters', 'replay', '--max-message-bytes', '64KB', '--data', s.dataDir]));

  // Restarted with the larger limit, the server knows it: a client resend is a duplicate.
  const k = await new Server({ dataDir: s.dataDir, writeKey: s.writeKey, args: ['--max-message-bytes', '64KB'] }).start();
  t.after(() => k.stop());
  const res = await k.post('/v1/batch', { batch: [big] });
  assert.equal(res.json.duplicates, 1);
  assert.equal(k.countEvents(`message_id = ${sqlString(big.messageId)}`), 1);
});

test('deadletters replay while the server (restarted with a larger limit) keeps running', async (t) => {
  const { s, big, dl } = await oversizeScenario(t);
  await s.stop();
  const k = await new Server({ dataDir: s.dataDir, writeKey: s.writeKey, args: ['--max-message-bytes', '64KB'] }).start();
  t.after(() => k.stop());
  assertReplayed(k, big, dl, cliResult(['deadletters', 'replay', '--max-message-bytes', '64KB', '--data', k.dataDir]));
  assert.equal((await k.get('/readyz')).json.status, 'ready');
});

test('a client resending a message that a running server\'s replay stored is answered as a duplicate', {
}, async (t) => {
  const { s, big } = await oversizeScenario(t);
  await s.stop();
  const k = await new Server({ dataDir: s.dataDir, writeKey: s.writeKey, args: ['--max-message-bytes', '64KB'] }).start();
  t.after(() => k.stop());
  const replay = cliResult(['deadletters', 'replay', '--max-message-bytes', '64KB', '--data', k.dataDir]);
  assert.equal(JSON.parse(replay.stdout).events_stored, 1);
  const res = await k.post('/v1/batch', { batch: [big] });
  assert.equal(res.status, 200);
  assert.equal(k.countEvents(`message_id = ${sqlString(big.messageId)}`), 1, 'stored exactly once');
  assert.equal(res.json.duplicates, 1);
});

test('a replayed whole-body dead letter is split into messages; a still-bad one becomes a dead letter of its own', async (t) => {
  const s = await startServer();
  t.after(async () => { await s.stop(); s.cleanup(); });
  const good = track();
  const bad = track({ userId: null });
  const res = await s.post('/v1/batch', JSON.stringify({ batch: [good, bad] }), { headers: { 'Content-Encoding': 'br' } });
  assert.equal(res.status, 415);
  const [dl] = s.query('SELECT id, kind, received_at FROM dead_letters');
  assert.equal(dl.kind, 'request');
  await s.stop();
  const out = JSON.parse(cliResult(['deadletters', 'replay', '--data', s.dataDir]).stdout);
  assert.equal(out.events_stored, 1);
  assert.equal(s.countEvents(`message_id = ${sqlString(good.messageId)}`), 1);
  assert.equal(s.query(`SELECT received_at FROM events WHERE message_id = ${sqlString(good.messageId)}`)[0].received_at, dl.received_at);
  const rest = s.query(`SELECT kind, reason, cast(raw AS TEXT) AS raw FROM dead_letters WHERE id > ${dl.id}`);
  assert.deepEqual(rest, [{ kind: 'message', reason: 'missing_id', raw: JSON.stringify(bad) }]);
});
