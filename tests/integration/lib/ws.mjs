// A small WebSocket client over a raw TCP socket (RFC 6455), for tests that
// need what a browser's WebSocket hides: a client that stops reading (slow
// consumer), exact close codes, pings. Text messages arrive parsed as JSON.
//
//   const ws = await connectWs(`${j.url}/v1/live?writeKey=${key}&sessionId=s1`);
//   const msg = await ws.next((m) => m.type === 'intervention');
//   ws.send({ type: 'response', id: msg.id, status: 'shown' });
//   ws.close();
import net from 'node:net';
import crypto from 'node:crypto';

export function connectWs(url, { headers = {}, origin, readPaused = false } = {}) {
  const u = new URL(url);
  const key = crypto.randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const client = {
      socket: sock,
      messages: [],
      waiters: [],
      closeCode: null,
      status: null,
      responseHead: '',
      closed: null,
      send(obj) {
        const payload = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
        sock.write(frame(1, payload));
      },
      sendRaw(opcode, payload) {
        sock.write(frame(opcode, Buffer.from(payload)));
      },
      close(code = 1000) {
        const p = Buffer.alloc(2);
        p.writeUInt16BE(code);
        try { sock.write(frame(8, p)); } catch { /* already gone */ }
        setTimeout(() => sock.destroy(), 200);
      },
      // Resolves with the first message (past or future) for which pred is true.
      next(pred = () => true, timeout = 5000) {
        const found = client.messages.find(pred);
        if (found) return Promise.resolve(found);
        return new Promise((res, rej) => {
          const w = { pred, res: (m) => { clearTimeout(w.timer); res(m); } };
          client.waiters.push(w);
          w.timer = setTimeout(() => {
            const i = client.waiters.indexOf(w);
            if (i >= 0) {
              client.waiters.splice(i, 1);
              rej(new Error(`no matching WebSocket message within ${timeout} ms; got ${JSON.stringify(client.messages)}`));
            }
          }, timeout);
        });
      },
    };
    client.closed = new Promise((res) => sock.on('close', () => res(client.closeCode)));
    sock.on('error', (e) => { if (!upgraded) reject(e); });
    sock.on('connect', () => {
      const lines = [
        `GET ${u.pathname}${u.search} HTTP/1.1`,
        `Host: ${u.host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Version: 13',
      ];
      if (origin) lines.push(`Origin: ${origin}`);
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      sock.write(lines.join('\r\n') + '\r\n\r\n');
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        client.responseHead = head;
        client.status = Number(head.split(' ')[1]);
        buf = buf.subarray(end + 4);
        if (client.status !== 101) {
          client.body = buf.toString();
          resolve(client);
          sock.end();
          return;
        }
        const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        if (!head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) {
          reject(new Error('bad Sec-WebSocket-Accept:\n' + head));
          return;
        }
        upgraded = true;
        if (readPaused) sock.pause();
        resolve(client);
      }
      for (;;) {
        const f = parse(buf);
        if (!f) break;
        buf = buf.subarray(f.length);
        if (f.opcode === 1) {
          let msg;
          try { msg = JSON.parse(f.payload.toString()); } catch { msg = f.payload.toString(); }
          client.messages.push(msg);
          for (const w of [...client.waiters]) {
            if (w.pred(msg)) {
              client.waiters.splice(client.waiters.indexOf(w), 1);
              w.res(msg);
            }
          }
        } else if (f.opcode === 8) {
          client.closeCode = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
          client.closeReason = f.payload.subarray(2).toString();
          try { sock.write(frame(8, f.payload.subarray(0, 2))); } catch { /* gone */ }
          sock.end();
        } else if (f.opcode === 9) {
          sock.write(frame(10, f.payload));
        }
      }
    });
  });
}

function frame(opcode, payload) {
  const mask = crypto.randomBytes(4);
  let head;
  if (payload.length < 126) {
    head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
  } else if (payload.length < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i % 4];
  return Buffer.concat([head, mask, masked]);
}

function parse(buf) {
  if (buf.length < 2) return null;
  const opcode = buf[0] & 0x0f;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  if (buf[1] & 0x80) off += 4; // servers never mask, but be tolerant
  if (buf.length < off + len) return null;
  return { opcode, payload: buf.subarray(off, off + len), length: off + len };
}
