// Test harness: runs the real journey binary on an ephemeral loopback port with
// a fresh data directory, and reads the real SQLite file with the sqlite3 CLI.
//
//   const j = await startServer({ args: ['--rate-limit-ip', '0'] });
//   const res = await j.post('/v1/batch', { batch: [...] });
//   const rows = j.query('SELECT * FROM events');
//   await j.stop();
//
// Processes are ended by the PID we started, never by name.
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../../..');
export const BIN = process.env.JOURNEY_BIN || path.join(ROOT, 'build/debug/journey');

// The environment of a journey process: ours without any inherited JOURNEY_* variable
// (the server refuses unknown ones, and the tests must not pick up a developer's
// settings), plus the given ones.
export function childEnv(env = {}) {
  const out = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JOURNEY_')) out[k] = v;
  return { ...out, ...env };
}

export function cli(args, { env = {}, input } = {}) {
  return execFileSync(BIN, args, {
    env: childEnv(env),
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

// Runs the CLI and returns { status, stdout, stderr } without throwing.
// timeout (ms) kills a command that does not end (status null, signal set).
export function cliResult(args, { env = {}, timeout = 30000 } = {}) {
  try {
    const stdout = execFileSync(BIN, args, { env: childEnv(env), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout });
    return { status: 0, stdout, stderr: '' };
  } catch (e) {
    return { status: e.status, signal: e.signal, stdout: e.stdout?.toString() ?? '', stderr: e.stderr?.toString() ?? '' };
  }
}

export function makeDataDir() {
  return mkdtempSync(path.join(tmpdir(), 'journey-test-'));
}

export function createProject(dataDir, name = 'Test') {
  return JSON.parse(cli(['project', 'create', name, '--data', dataDir]));
}

export function sql(dataDir, query) {
  const out = execFileSync('sqlite3', ['-json', path.join(dataDir, 'journey.db'), query], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  return out.trim() ? JSON.parse(out) : [];
}

export class Server {
  // opts: dataDir, args, env; writeKey / projectId when restarting on a data dir
  // that already has a project.
  constructor(opts) {
    this.opts = opts;
    this.dataDir = opts.dataDir;
    this.writeKey = opts.writeKey;
    this.projectId = opts.projectId;
    this.logs = '';
    this.stderr = '';
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    const args = ['serve', '--listen', '127.0.0.1:0', '--data', this.dataDir, '--log-level', 'info',
      '--rate-limit-ip', '0', ...(this.opts.args || [])];
    this.logs = '';
    this.stderr = '';
    this.proc = spawn(BIN, args, {
      env: childEnv(this.opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout.on('data', (d) => (this.logs += d));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    this.port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proc.kill('SIGKILL'); // never leave a half-started server behind
        reject(new Error(`server did not start:\n${this.logs}`));
      }, 10000);
      this.proc.stderr.on('data', (d) => {
        this.logs += d;
        this.stderr += d;
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(this.logs);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      this.exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${this.logs}`));
      });
    });
    return this;
  }

  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.proc.kill(signal);
    return this.exited;
  }

  auth(key = this.writeKey) {
    return 'Basic ' + Buffer.from(`${key}:`).toString('base64');
  }

  // POST JSON (or a Buffer/string body as is) with the write key as Basic auth.
  async post(pathname, body, { headers = {}, key = this.writeKey, raw = false } = {}) {
    const h = { 'Content-Type': 'application/json', ...headers };
    if (key !== null && !('Authorization' in h)) h.Authorization = this.auth(key);
    const res = await fetch(this.url + pathname, {
      method: 'POST',
      headers: h,
      body: raw || typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  }

  async get(pathname, { headers = {} } = {}) {
    const res = await fetch(this.url + pathname, { headers });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  }

  // Any request with full control over method, headers and body bytes (node:http:
  // no header is added but Host and Content-Length, unless chunked: true).
  request(pathname, opts = {}) {
    return rawRequest(this.url + pathname, opts);
  }

  // The Prometheus text of /metrics as a Map from 'name{labels}' to a number.
  async metrics() {
    const res = await this.get('/metrics');
    const m = new Map();
    for (const line of res.text.split('\n')) {
      const match = /^([a-zA-Z_:][^ ]*) (\S+)$/.exec(line);
      if (match) m.set(match[1], Number(match[2]));
    }
    return m;
  }

  query(q) {
    return sql(this.dataDir, q);
  }

  // Map from message_id to the number of events rows holding it.
  eventCounts() {
    const m = new Map();
    for (const r of this.query('SELECT message_id AS id, count(*) AS n FROM events GROUP BY message_id')) m.set(r.id, r.n);
    return m;
  }

  countEvents(where = '1') {
    return this.query(`SELECT count(*) AS n FROM events WHERE ${where}`)[0].n;
  }

  countDeadLetters(where = '1') {
    return this.query(`SELECT count(*) AS n FROM dead_letters WHERE ${where}`)[0].n;
  }

  cleanup() {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// Starts a server with a fresh data dir and one project (unless project: false).
// A data dir made here is removed again if the server cannot be started.
export async function startServer(opts = {}) {
  const dataDir = opts.dataDir || makeDataDir();
  const s = new Server({ ...opts, dataDir });
  try {
    if (opts.project !== false) {
      const p = createProject(dataDir, opts.projectName || 'Test');
      s.project = p;
      s.writeKey = p.write_key;
      s.secretKey = p.secret_key;
      s.projectId = p.id;
    }
    await s.start();
  } catch (e) {
    if (!opts.dataDir) s.cleanup();
    throw e;
  }
  return s;
}

// An SQL string literal.
export function sqlString(s) {
  return `'${String(s).replaceAll("'", "''")}'`;
}

// One HTTP request through node:http, so headers fetch() would refuse or rewrite
// are sent as given. Resolves to { status, headers (lower-case object), text, json }.
//
// unfinished: true sends the headers (with the Content-Length given in headers) and
// body, if any, but never ends the request: it resolves only if the server answers
// without waiting for the rest of the body, then drops the connection.
export function rawRequest(url, { method = 'POST', headers = {}, body, chunked = false, unfinished = false, timeout = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const buf = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const h = { ...headers };
    if (buf && !chunked && !unfinished) h['Content-Length'] = String(buf.length);
    const req = http.request(url, { method, headers: h, agent: false, timeout }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
        if (unfinished) req.destroy();
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (buf) req.write(buf);
    if (unfinished) req.flushHeaders();
    else req.end();
  });
}

// Writes raw bytes to a fresh TCP connection to 127.0.0.1:port and resolves with
// everything the server sent back (as a latin1 string) once it closes the connection.
export function rawSocket(port, bytes, { timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    s.setTimeout(timeout, () => s.destroy(new Error('raw socket timed out')));
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

export function uuid() {
  return crypto.randomUUID();
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Polls fn until it returns a truthy value (tests wait on conditions, not on time).
export async function waitFor(fn, { timeout = 5000, interval = 20, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(interval);
  }
}
