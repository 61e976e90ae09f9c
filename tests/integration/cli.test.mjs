// The journey command line, run as a user would: project creation, version, --help
// on every command, configuration errors that stop start-up with `file:line:`,
// the log format of `serve` (JSON lines on stderr, the first saying where it
// listens), and `config defaults` matching the committed journey.conf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT, cliResult, makeDataDir, startServer, Server, rawSocket, uuid } from './lib/journey.mjs';

const defaults = cliResult(['config', 'defaults']).stdout;
// Every option of the table, from the generated journey.conf: name = value lines.
const OPTIONS = [...defaults.matchAll(/^([a-z_]+) = /gm)].map((m) => m[1]);
const flagOf = (name) => `--${name.replaceAll('_', '-')}`;

function tempDir(t) {
  const dir = makeDataDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Runs a command that must fail before serving anything: bounded, never left running.
function mustRefuse(args, env = {}) {
  const r = cliResult(args, { env, timeout: 15000 });
  assert.ok(!r.signal, `${args.join(' ')} did not stop by itself (it was killed: ${r.signal})`);
  assert.notEqual(r.status, 0, `${args.join(' ')} must fail`);
  assert.doesNotMatch(r.stderr, /listening on/);
  return r;
}

test('journey project create NAME prints one JSON object with id, write_key and secret_key', (t) => {
  const data = tempDir(t);
  const a = cliResult(['project', 'create', 'Shop', '--data', data]);
  assert.equal(a.status, 0, a.stderr);
  const lines = a.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, a.stdout);
  const p = JSON.parse(lines[0]);
  assert.equal(typeof p.id, 'number');
  assert.equal(p.name, 'Shop');
  assert.match(p.write_key, /^\S{16,}$/);
  assert.match(p.secret_key, /^\S{16,}$/);
  assert.notEqual(p.write_key, p.secret_key);

  const b = JSON.parse(cliResult(['project', 'create', 'Blog', '--data', data]).stdout);
  assert.notEqual(b.id, p.id);
  assert.notEqual(b.write_key, p.write_key);

  // list shows both, without secrets.
  const list = cliResult(['project', 'list', '--data', data]);
  assert.equal(list.status, 0);
  const listed = list.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.deepEqual(listed.map((x) => x.name).sort(), ['Blog', 'Shop']);
  assert.ok(!list.stdout.includes(p.secret_key) && !list.stdout.includes(b.secret_key), 'no secret in the list');
});

test('journey version prints the version', () => {
  const r = cliResult(['version']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^journey \d+\.\d+\.\d+\b/);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.ok(r.stdout.startsWith(`journey ${pkg.version}`), `${r.stdout} vs package.json ${pkg.version}`);
});

test('--help on the program and each subcommand exits 0 and names its options', () => {
  const top = cliResult(['--help']);
  assert.equal(top.status, 0);
  for (const c of ['serve', 'project', 'deadletters', 'config', 'version']) assert.match(top.stdout, new RegExp(`\\b${c}\\b`));

  const serve = cliResult(['serve', '--help']);
  assert.equal(serve.status, 0);
  for (const name of OPTIONS) {
    assert.ok(serve.stdout.includes(flagOf(name)), `serve --help names ${flagOf(name)}`);
    assert.ok(serve.stdout.includes(`JOURNEY_${name.toUpperCase()}`), `serve --help names JOURNEY_${name.toUpperCase()}`);
  }
  assert.match(serve.stdout, /--config FILE/);

  const expected = {
    'project': ['create', 'list', '--data'],
    'project create': ['--data', '--config'],
    'project list': ['--data'],
    'deadletters': ['list', 'replay'],
    'deadletters list': ['--project', '--limit', '--after', '--all', '--data'],
    'deadletters replay': ['--id', '--project', '--limit', '--data'],
    'config': ['defaults', 'show'],
  };
  for (const [cmd, words] of Object.entries(expected)) {
    const r = cliResult([...cmd.split(' '), '--help']);
    assert.equal(r.status, 0, `${cmd} --help: ${r.stderr}`);
    assert.match(r.stdout, /usage:/, cmd);
    for (const w of words) assert.ok(r.stdout.includes(w), `${cmd} --help names ${w}`);
  }
});

test('--help on config show, config defaults and version prints their usage', {
}, () => {
  for (const cmd of ['config show', 'config defaults', 'version']) {
    const r = cliResult([...cmd.split(' '), '--help']);
    assert.equal(r.status, 0, `${cmd} --help: ${r.stderr}`);
    assert.match(r.stdout, /usage:/, `${cmd} --help prints a usage text`);
  }
  assert.ok(cliResult(['config', 'show', '--help']).stdout.includes('--listen'), 'config show takes every server option');
});

test('a journey.conf with an unknown option stops start-up with PATH:LINE: message', (t) => {
  const dir = tempDir(t);
  const conf = path.join(dir, 'journey.conf');
  writeFileSync(conf, 'listen = 127.0.0.1:0\n# a comment\n\nno_such_option = 1\nip_mode = full\n');
  const r = mustRefuse(['serve', '--config', conf, '--data', dir]);
  assert.match(r.stderr, new RegExp(`${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: .*no_such_option`));
  // Through JOURNEY_CONFIG too.
  const e = mustRefuse(['serve', '--data', dir], { JOURNEY_CONFIG: conf });
  assert.ok(e.stderr.includes(`${conf}:4: `), e.stderr);
});

test('a journey.conf with an out-of-range or malformed value stops start-up with PATH:LINE: message', (t) => {
  const dir = tempDir(t);
  const cases = [
    ['listen = 127.0.0.1:0\nqueue_max_messages = 5\n', 2, /queue_max_messages.*range/],
    ['listen = 127.0.0.1:0\nrate_limit_ip = -1\n', 2, /rate_limit_ip/],
    ['listen = 127.0.0.1:0\n\n\nip_mode = sometimes\n', 4, /ip_mode/],
    ['listen = 127.0.0.1:0\nmax_message_bytes = lots\n', 2, /max_message_bytes/],
    ['listen = 127.0.0.1:0\nshutdown_timeout = 10 parsecs\n', 2, /shutdown_timeout/],
    ['ip_mode anonymize\n', 1, /name = value/],
  ];
  for (const [i, [text, line, what]] of cases.entries()) {
    const conf = path.join(dir, `bad-${i}.conf`);
    writeFileSync(conf, text);
    const r = mustRefuse(['serve', '--config', conf, '--data', dir]);
    assert.ok(r.stderr.includes(`${conf}:${line}: `), `${JSON.stringify(text)}: ${r.stderr}`);
    assert.match(r.stderr, what);
  }
});

test('an unknown JOURNEY_* variable, a bad flag value and an unknown flag are refused', (t) => {
  const dir = tempDir(t);
  const base = ['serve', '--listen', '127.0.0.1:0', '--data', dir];
  let r = mustRefuse(base, { JOURNEY_NO_SUCH_OPTION: '1' });
  assert.match(r.stderr, /JOURNEY_NO_SUCH_OPTION/);
  r = mustRefuse(base, { JOURNEY_IP_MODE: 'sometimes' });
  assert.match(r.stderr, /JOURNEY_IP_MODE|ip_mode/);
  for (const [flag, value] of [['--queue-max-messages', 'abc'], ['--ip-mode', 'weird'], ['--rate-limit-ip', '-5'], ['--max-request-bytes', '12XB'], ['--synchronous', 'maybe'], ['--queue-max-messages', '99']]) {
    r = mustRefuse([...base, flag, value]);
    assert.ok(r.stderr.includes(flag), `${flag} ${value}: ${r.stderr}`);
  }
  r = mustRefuse([...base, '--no-such-flag']);
  assert.match(r.stderr, /--no-such-flag/);
});

test('configuration precedence: flags over environment over file', (t) => {
  const dir = tempDir(t);
  const conf = path.join(dir, 'journey.conf');
  writeFileSync(conf, 'rate_limit_ip = 7\nip_mode = full\n');
  const show = (args, env) => {
    const r = cliResult(['config', 'show', '--config', conf, ...args], { env });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  assert.equal(show([], {}).rate_limit_ip, 7);
  assert.equal(show([], { JOURNEY_RATE_LIMIT_IP: '8' }).rate_limit_ip, 8);
  assert.equal(show(['--rate-limit-ip', '9'], { JOURNEY_RATE_LIMIT_IP: '8' }).rate_limit_ip, 9);
  const all = show([], {});
  assert.equal(all.ip_mode, 'full');
  assert.deepEqual(Object.keys(all).sort(), [...OPTIONS].sort(), 'config show has every option');
});

test('serve logs JSON lines on stderr, the first one "listening on 127.0.0.1:PORT"', async (t) => {
  const j = await startServer({ args: ['--log-level', 'debug'] });
  t.after(() => j.cleanup());
  assert.equal((await j.get('/healthz')).status, 200, 'the logged port is the one that answers');
  // Requests whose client-supplied text needs escaping in a JSON log line.
  const body = JSON.stringify({ batch: [{ type: 'track', event: 'log', userId: 'u', messageId: uuid() }] });
  const raw = (target, ua, extra = '') => Buffer.concat([
    Buffer.from('POST '), Buffer.from(target, 'latin1'), Buffer.from(' HTTP/1.1\r\nHost: x\r\nUser-Agent: '),
    Buffer.from(ua, 'latin1'), Buffer.from(`\r\nAuthorization: ${j.auth()}\r\n${extra}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`),
  ]);
  assert.match(await rawSocket(j.port, raw('/v1/batch', 'evil"\\\x01agent\xff', 'X-Request-Id: a"b\\c\r\n')), /^HTTP\/1\.1 200/);
  assert.match(await rawSocket(j.port, raw('/v1/"q"\\\xff\x01x?y="z"', 'ua')), /^HTTP\/1\.1 404/);
  await j.post('/v1/batch', '{"batch":[');
  const { code } = await j.stop();
  assert.equal(code, 0);

  const lines = j.stderr.split('\n').filter(Boolean);
  assert.ok(lines.length >= 4, j.stderr);
  const records = lines.map((l) => {
    let r;
    assert.doesNotThrow(() => { r = JSON.parse(l); }, `not a JSON line: ${l}`);
    return r;
  });
  for (const r of records) {
    assert.ok(!Number.isNaN(Date.parse(r.time)) && /Z$/.test(r.time), `time: ${JSON.stringify(r)}`);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(r.level), `level: ${JSON.stringify(r)}`);
    assert.equal(typeof r.sub, 'string');
    assert.equal(typeof r.msg, 'string');
  }
  assert.equal(records[0].msg, `listening on 127.0.0.1:${j.port}`);
  assert.equal(records[0].level, 'info');
  assert.ok(records.some((r) => r.level === 'debug' && r.msg.includes('"q"')), 'the odd request path is logged, escaped');
});

test('serve --config FILE starts with the file\'s settings', async (t) => {
  const dir = tempDir(t);
  const conf = path.join(dir, 'journey.conf');
  writeFileSync(conf, `listen = 127.0.0.1:0\ndata = ${dir}\nmax_batch_messages = 2\nrate_limit_ip = 0\n`);
  const project = JSON.parse(cliResult(['project', 'create', 'C', '--config', conf]).stdout);
  const s = new Server({ dataDir: dir, writeKey: project.write_key, args: ['--config', conf] });
  await s.start();
  t.after(() => s.stop());
  const m = () => ({ type: 'track', event: 'c', userId: 'u', messageId: uuid() });
  assert.equal((await s.post('/v1/batch', { batch: [m(), m()] })).status, 200);
  const res = await s.post('/v1/batch', { batch: [m(), m(), m()] });
  assert.equal(res.status, 413);
  assert.equal(res.json.error.code, 'too_many_messages');
});

test('journey config defaults is the committed journey.conf', () => {
  const committed = readFileSync(path.join(ROOT, 'journey.conf'), 'utf8');
  const r = cliResult(['config', 'defaults']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, committed);
  assert.ok(OPTIONS.length >= 25, `${OPTIONS.length} options`);
});
