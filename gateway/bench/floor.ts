// The floor of a Node proxy, for the proxy benchmark (proxy.ts, targets node-undici and
// node-http): a node:http server that forwards every request to the endpoint and writes the
// answer back, with no authentication, no header rules and no log; what Node's HTTP server
// and a pooled client cost on their own, and so how much of the gateway's CPU per request is
// its own checks and how much is Node. Two clients, measured rather than guessed: undici's
// Agent with a raw dispatch handler (as the gateway forwards, sessions/forward.ts), and
// node:http's request with a keep-alive Agent, piped. proxy.ts forks it with the port, the
// endpoint and the client, and waits for `{ ready: true }` on the IPC channel.
import { createServer, Agent as HttpAgent, request } from 'node:http';
import { Agent, type Dispatcher } from 'undici';

const [portArg, endpoint, client] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || !endpoint || (client !== 'undici' && client !== 'http')) {
  throw new Error('usage: node floor.ts PORT ENDPOINT_URL undici|http');
}
const target = new URL(endpoint);

/** Both clients as the gateway's: 64 keep-alive connections to the endpoint. */
const undici = new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
const agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });

const server = createServer((req, res) => {
  req.resume();
  if (client === 'undici') {
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(_c, status, headers) {
        const out: string[] = [];
        for (const name in headers) {
          const value = headers[name];
          if (typeof value === 'string' && name !== 'connection' && name !== 'keep-alive') {
            out.push(name, value);
          }
        }
        res.writeHead(status, out);
      },
      onResponseData(_c, chunk) {
        res.write(chunk);
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError() {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      },
    };
    undici.dispatch(
      { origin: target.origin, path: req.url ?? '/', method: req.method ?? 'GET', headers: [] },
      handler,
    );
    return;
  }
  const upstream = request(
    { agent, host: target.hostname, port: target.port, path: req.url, method: req.method },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  upstream.end();
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.send?.({ ready: true }));
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
