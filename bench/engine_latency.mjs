#!/usr/bin/env node
// Struggle-to-popup latency under load: the time from sending the HTTP request
// that carries a visitor's tipping event to the intervention arriving on that
// visitor's WebSocket, while a background load of --rate events/s from many
// simulated sessions runs.
//
//   node bench/engine_latency.mjs [--rate 10000] [--probes 250] [--bin build/release/journey]
//                                 [--json out.json] [--quick]
//
// Each probe is a new session (at most one intervention per session per 10
// minutes): it opens /v1/live, waits for hello, sends a calculator page and two
// failed attempts on the income field, then the third failed submit alone: the
// request that tips its exit risk over 75. The background load runs in a child
// process so the probe's timing is not disturbed by its event loop. Durability
// is on (synchronous = full): every request is answered after its fsync.
import { spawn, fork, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { connectWs } from '../tests/integration/lib/ws.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const quick = args.quick === 'true';
const RATE = Number(args.rate || 10000);
const PROBES = Number(args.probes || (quick ? 60 : 250));
const BIN = path.resolve(args.bin || path.join(here, '../build/release/journey'));

// ---- background load (child process) --------------------------------------
if (args.background) {
  const [url, key] = [args.url, args.key];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const auth = 'Basic ' + Buffer.from(`${key}:`).toString('base64');
  let sent = 0, failed = 0, seq = 0;
  const batchSize = 100;
  const perSecond = RATE / batchSize;
  const kinds = ['$click', '$scroll', '$field_focus', '$field_change', '$field_blur'];
  const start = Date.now();
  function batch() {
    const now = Date.now();
    const msgs = [];
    for (let i = 0; i < batchSize; i++) {
      const s = (seq++ % 5000);
      const k = seq % 7;
      const m = {
        type: k === 0 ? 'page' : 'track', anonymousId: `bg-a-${s}`, messageId: `bg-${process.pid}-${seq}`,
        originalTimestamp: new Date(now).toISOString(), sentAt: new Date(now).toISOString(),
        context: { sessionId: `bg-s-${s}`, page: { path: `/p${s % 20}` } },
      };
      if (k === 0) m.properties = { path: `/p${s % 20}` };
      else {
        m.event = kinds[k % kinds.length];
        m.properties = { selector: '#x', x: (seq * 37) % 900, y: (seq * 91) % 700, form: 'f', field: `f${k}`, length: 3, valid: true, depth: 50, direction: 'down' };
      }
      msgs.push(m);
    }
    return JSON.stringify({ batch: msgs });
  }
  function send(body) {
    const req = http.request(url + '/v1/batch', { method: 'POST', agent, headers: { Authorization: auth, 'Content-Type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => { if (res.statusCode === 200) sent += batchSize; else failed++; });
    });
    req.on('error', () => failed++);
    req.end(body);
  }
  let due = 0;
  setInterval(() => {
    const elapsed = (Date.now() - start) / 1000;
    const target = Math.floor(elapsed * perSecond);
    while (due < target) { send(batch()); due++; }
  }, 5);
  setInterval(() => process.send?.({ sent, failed, seconds: (Date.now() - start) / 1000 }), 1000);
} else {
  main().catch((e) => { console.error(e); process.exit(1); });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function post(url, key, body) {
  const res = await fetch(url + '/v1/batch', {
    method: 'POST',
    headers: { Authorization: 'Basic ' + Buffer.from(`${key}:`).toString('base64'), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text();
  if (res.status !== 200) throw new Error(`status ${res.status}`);
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'journey-latency-'));
  const project = JSON.parse(execFileSync(BIN, ['project', 'create', 'latency', '--data', dataDir], { encoding: 'utf8' }));
  execFileSync(BIN, ['project', 'settings', String(project.id), '--data', dataDir, '--json', '{"holdout_pct":0}']);
  const server = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data', dataDir, '--rate-limit-ip', '0',
    '--rate-limit-key', '0', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  const port = await new Promise((resolve, reject) => {
    server.stderr.on('data', (d) => {
      logs += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(logs);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (c) => reject(new Error('server exited ' + c + '\n' + logs)));
  });
  const url = `http://127.0.0.1:${port}`;
  const key = project.write_key;
  let bgStats = { sent: 0, failed: 0, seconds: 0 };
  const bg = fork(fileURLToPath(import.meta.url), ['--background', 'true', '--url', url, '--key', key, '--rate', String(RATE)]);
  bg.on('message', (m) => { bgStats = m; });
  await new Promise((r) => setTimeout(r, 2000)); // let the load settle

  const latencies = [];
  const stages = [];
  let failures = 0;
  for (let p = 0; p < PROBES; p++) {
    const sid = `probe-${p}-${Date.now()}`;
    const ws = await connectWs(`${url}/v1/live?writeKey=${key}&sessionId=${sid}`);
    await ws.next((m) => m.type === 'hello');
    let t = Date.now() - 5000;
    const msg = (event, properties, type = 'track') => ({
      type, event, properties, anonymousId: `probe-a-${p}`, messageId: `${sid}-${t}`,
      originalTimestamp: new Date(t += 100).toISOString(), sentAt: new Date().toISOString(),
      context: { sessionId: sid, page: { path: '/demo/calculator.html' } },
    });
    await post(url, key, { batch: [msg(undefined, { path: '/demo/calculator.html' }, 'page')] });
    for (let round = 0; round < 3; round++) {
      await post(url, key, { batch: [
        msg('$field_change', { form: 'loan-calculator', field: 'income', length: 4, valid: true }),
        msg('$field_invalid', { form: 'loan-calculator', field: 'income', reason: 'custom', source: 'api' }),
      ] });
      const submit = { batch: [msg('$form_submit', { form: 'loan-calculator', valid: false })] };
      if (round < 2) {
        await post(url, key, submit);
        continue;
      }
      // The tipping request: time it to the intervention on the socket.
      const got = ws.next((m) => m.type === 'intervention', 10000);
      const t0 = process.hrtime.bigint();
      const ack = post(url, key, submit).then(() => process.hrtime.bigint());
      try {
        await got;
        const t1 = process.hrtime.bigint();
        latencies.push(Number(t1 - t0) / 1e6);
        stages.push(Number((await ack) - t0) / 1e6);
      } catch {
        failures++;
      }
    }
    ws.close();
  }
  bg.kill('SIGTERM');
  const metrics = await (await fetch(url + '/metrics')).text();
  server.kill('SIGTERM');
  await new Promise((r) => server.on('exit', r));
  rmSync(dataDir, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  stages.sort((a, b) => a - b);
  const engineP = /journey_engine_events_total (\d+)/.exec(metrics)?.[1];
  const dropped = /journey_engine_dropped_total (\d+)/.exec(metrics)?.[1];
  const result = {
    probes: latencies.length,
    failures,
    background_events_per_s: Math.round(bgStats.sent / Math.max(1, bgStats.seconds)),
    background_failed_requests: bgStats.failed,
    latency_ms: {
      p50: +percentile(latencies, 50).toFixed(2),
      p90: +percentile(latencies, 90).toFixed(2),
      p99: +percentile(latencies, 99).toFixed(2),
      max: +latencies[latencies.length - 1].toFixed(2),
    },
    http_ack_ms: { p50: +percentile(stages, 50).toFixed(2), p99: +percentile(stages, 99).toFixed(2) },
    target_p99_ms: 50,
    engine_events_submitted: Number(engineP || 0),
    engine_events_dropped: Number(dropped || 0),
    versus_polling_design_ms: 41000,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(`struggle-to-popup p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms ` +
    `(target <= 50 ms) under ${result.background_events_per_s} events/s; ` +
    `${(41000 / result.latency_ms.p99).toFixed(0)}x faster than the 41 s of the polling design at p99`);
  if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2));
  process.exit(0);
}
