/**
 * Test helpers for the stream page: a static server for the built files with an optional
 * signalling WebSocket at /signal, and a Chromium launcher.
 *
 * The WebSocket side is a minimal RFC 6455 server (text, close, ping frames) written here
 * because web/ has no WebSocket library of its own; it stands in for the streamer's
 * signalling until the streamer exists.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { launchChromium as launchTestbedChromium } from '@floe/testbed';
import type { Browser } from 'playwright-core';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export interface SignalSocket {
  send(message: unknown): void;
  close(code: number, reason?: string): void;
  /** The next message from the page, parsed. */
  next(): Promise<Record<string, unknown>>;
  closed: Promise<void>;
}

export interface StreamServer {
  url: string;
  /** Resolves with each signalling connection the page makes, in order. */
  connection(): Promise<SignalSocket>;
  connections: number;
  close(): Promise<void>;
}

/** Serves `dir`; with `signalling`, accepts WebSockets at /signal, otherwise refuses them. */
export async function serveStream(dir: string, signalling = false): Promise<StreamServer> {
  const sockets = new Set<Socket>();
  const waiting: ((s: SignalSocket) => void)[] = [];
  const ready: SignalSocket[] = [];
  let connections = 0;

  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/turn') {
      // as the streamer answers it (streamer/src/streamer.ts): no gateway's servers here
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ iceServers: [], expiresAt: null }));
      return;
    }
    const file = normalize(join(dir, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    if (!signalling || !req.url?.endsWith('/signal')) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    connections++;
    const s = acceptWebSocket(req, socket);
    const waiter = waiting.shift();
    if (waiter) waiter(s);
    else ready.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    connection: () => {
      const s = ready.shift();
      return s ? Promise.resolve(s) : new Promise((resolve) => waiting.push(resolve));
    },
    get connections() {
      return connections;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, len])
      : len < 65_536
        ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), u64(len)]);
  return Buffer.concat([head, payload]);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function acceptWebSocket(req: IncomingMessage, socket: Socket): SignalSocket {
  const key = req.headers['sec-websocket-key'] ?? '';
  const accept = createHash('sha1')
    .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );

  const inbox: Record<string, unknown>[] = [];
  const readers: ((m: Record<string, unknown>) => void)[] = [];
  let buffer = Buffer.alloc(0);
  let fragments: Buffer[] = [];
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  socket.on('close', () => resolveClosed());
  socket.on('error', () => {});

  const deliver = (text: string) => {
    const message = JSON.parse(text) as Record<string, unknown>;
    const reader = readers.shift();
    if (reader) reader(message);
    else inbox.push(message);
  };

  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) return;
      const fin = (buffer[0]! & 0x80) !== 0;
      const opcode = buffer[0]! & 0x0f;
      let len = buffer[1]! & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (buffer.length < 4) return;
        len = buffer.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (buffer.length < 10) return;
        len = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + 4 + len) return;
      const mask = buffer.subarray(offset, offset + 4);
      const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      buffer = buffer.subarray(offset + 4 + len);
      if (opcode === 0x8) {
        socket.end(frame(0x8, payload.subarray(0, 2)));
        return;
      }
      if (opcode === 0x9) socket.write(frame(0xa, payload));
      if (opcode === 0x1 || opcode === 0x0) {
        fragments.push(payload);
        if (fin) {
          deliver(Buffer.concat(fragments).toString('utf8'));
          fragments = [];
        }
      }
    }
  });

  return {
    send(message) {
      if (!socket.destroyed) socket.write(frame(0x1, Buffer.from(JSON.stringify(message))));
    },
    close(code, reason = '') {
      const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
      payload.writeUInt16BE(code, 0);
      payload.write(reason, 2);
      socket.end(frame(0x8, payload));
    },
    next() {
      const m = inbox.shift();
      return m ? Promise.resolve(m) : new Promise((resolve) => readers.push(resolve));
    },
    closed,
  };
}

export function launchChromium(): Promise<Browser> {
  return launchTestbedChromium([
    '--headless=new',
    // Real host addresses in ICE candidates, so two pages of one browser can connect.
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required',
  ]);
}
