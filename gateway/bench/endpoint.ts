// The session endpoint of the proxy benchmark (proxy.ts), in a process of its own: a
// node:http server answering every GET with the same small body, standing in for a
// session's streamer (its page and assets), and accepting WebSocket upgrades (the
// signalling) that echo each message. proxy.ts forks it with the port and body size and
// waits for `{ ready: true }` on the IPC channel.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
const bodyBytes = Number(process.argv[3] ?? 1024);
if (!Number.isInteger(port) || !Number.isInteger(bodyBytes)) {
  throw new Error('usage: node endpoint.ts PORT BODY_BYTES');
}

const body = Buffer.alloc(bodyBytes, 'x');
const server = createServer((req, res) => {
  // a request body (none in the benchmark) is drained before answering
  req.resume();
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(body);
});
// the benchmark's clients keep their connections for the whole run
server.keepAliveTimeout = 60_000;

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {});
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
});

server.listen(port, '127.0.0.1', () => process.send?.({ ready: true }));
// the benchmark ends it with SIGTERM, or it goes when the benchmark does
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
