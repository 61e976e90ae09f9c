#!/usr/bin/env node
// Times one /api/v1 request N times over a keep-alive connection and prints
// {"n", "min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms", "status"} as JSON (bench/analytics).
//
//   node bench/analytics_probe.mjs --url http://127.0.0.1:PORT/api/v1/kpis/live --key sk_... \
//        [--method POST --body '{"steps": ...}'] [--n 200] [--interval-ms 0] [--wait-ready]
//
// --wait-ready: first polls until the answer is not 503 (the column store is loading).
import http from 'node:http';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const url = new URL(args.url);
const n = Number(args.n || 20);
const method = args.method || 'GET';
const body = args.body || null;
const interval = Number(args['interval-ms'] || 0);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function once() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(url, {
      method, agent,
      headers: { Authorization: `Bearer ${args.key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    }, (res) => {
      let len = 0;
      res.on('data', (d) => { len += d.length; });
      res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, status: res.statusCode, len }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (args['wait-ready']) {
  const deadline = Date.now() + Number(args['ready-timeout-s'] || 1800) * 1000;
  for (;;) {
    const r = await once();
    if (r.status !== 503) break;
    if (Date.now() > deadline) { console.error('not ready'); process.exit(1); }
    await sleep(500);
  }
}
const times = [];
let status = 0, bytes = 0;
for (let i = 0; i < n; i++) {
  const r = await once();
  times.push(r.ms);
  status = r.status;
  bytes = r.len;
  if (r.status !== 200) break;
  if (interval) await sleep(interval);
}
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
const r3 = (x) => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({ n: times.length, status, bytes, min_ms: r3(times[0]), p50_ms: r3(q(0.5)), p90_ms: r3(q(0.9)),
  p99_ms: r3(q(0.99)), max_ms: r3(times[times.length - 1]) }));
agent.destroy();
