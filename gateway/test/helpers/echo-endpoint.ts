// STAND-IN for a session's streamer: a tiny real HTTP + WebSocket server that answers
// every request with what it received (path and headers) and echoes WebSocket text
// messages, after a first message saying what the upgrade request carried. The gateway's
// tests use it where the real streamer (an X server, GStreamer, WebRTC) is not the point.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function frame(opcode: number, payload: Buffer): Buffer {
  const length =
    payload.length < 126
      ? Buffer.from([payload.length])
      : Buffer.from([126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([Buffer.from([0x80 | opcode]), length, payload]);
}

/** Reads client frames (masked, under 64 KiB) and echoes text, answers ping and close. */
function echo(socket: Duplex, head: Buffer) {
  let buffer = Buffer.from(head);
  const drain = () => {
    while (buffer.length >= 2) {
      const opcode = (buffer[0] as number) & 0x0f;
      const masked = ((buffer[1] as number) & 0x80) !== 0;
      let length = (buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      }
      const maskLength = masked ? 4 : 0;
      if (buffer.length < offset + maskLength + length) return;
      const mask = buffer.subarray(offset, offset + maskLength);
      const payload = Buffer.from(
        buffer.subarray(offset + maskLength, offset + maskLength + length),
      );
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      buffer = buffer.subarray(offset + maskLength + length);
      if (opcode === 0x1) socket.write(frame(0x1, payload));
      else if (opcode === 0x9) socket.write(frame(0xa, payload));
      else if (opcode === 0x8) {
        socket.end(frame(0x8, payload.subarray(0, 2)));
        return;
      }
    }
  };
  socket.on('end', () => socket.end());
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    drain();
  });
  drain();
}

export interface EchoRequest {
  path: string;
  headers: IncomingHttpHeaders;
}

export async function startEchoEndpoint() {
  const requests: EchoRequest[] = [];
  const sockets = new Set<Duplex>();
  const server = createServer((req, res) => {
    const seen = { path: req.url ?? '', headers: req.headers };
    requests.push(seen);
    res.writeHead(200, { 'content-type': 'application/json', 'x-stand-in': 'echo' });
    res.end(JSON.stringify(seen));
  });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const seen = { path: req.url ?? '', headers: req.headers };
    requests.push(seen);
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}${WS_GUID}`)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.write(frame(0x1, Buffer.from(JSON.stringify(seen))));
    echo(socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
