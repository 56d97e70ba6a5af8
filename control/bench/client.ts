// The benchmark's load generator, run by launch.ts in a child process of its own so that it
// shares no event loop with the server: a closed loop of `concurrency` keep-alive
// connections, each sending its next POST when the answer to the last one has arrived.
import { connect } from 'node:net';

export interface Target {
  path: string;
  token: string;
  body: string;
}
export interface Load {
  url: string;
  targets: Target[];
  concurrency: number;
  seconds: number;
}

/** One keep-alive HTTP/1.1 connection, one request at a time; answers need Content-Length. */
function connection(url: URL) {
  const socket = connect(Number(url.port), url.hostname).setNoDelay(true);
  let buffer = '';
  let waiting: { resolve: (status: number) => void; reject: (err: Error) => void } | undefined;
  socket.on('error', (err) => waiting?.reject(err));
  socket.on('data', (chunk) => {
    buffer += chunk.toString('latin1');
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const length = /\r\ncontent-length: *(\d+)/i.exec(buffer.slice(0, end))?.[1];
    if (length === undefined) return waiting?.reject(new Error('no Content-Length'));
    if (buffer.length < end + 4 + Number(length)) return;
    const status = Number(buffer.slice(9, 12));
    buffer = buffer.slice(end + 4 + Number(length));
    waiting?.resolve(status);
  });
  return (t: Target) =>
    new Promise<number>((resolve, reject) => {
      waiting = { resolve, reject };
      socket.write(
        `POST ${t.path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${t.token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${t.body.length}\r\n\r\n${t.body}`,
      );
    });
}

async function run(load: Load) {
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  const start = performance.now();
  const tick = setInterval(() => process.send?.({ progress: latencies.length }), 1000);
  await Promise.all(
    Array.from({ length: load.concurrency }, async () => {
      const post = connection(new URL(load.url));
      while (performance.now() < start + load.seconds * 1000) {
        const t = load.targets[Math.floor(Math.random() * load.targets.length)] as Target;
        const t0 = performance.now();
        const code = await post(t);
        latencies.push(performance.now() - t0);
        status[code] = (status[code] ?? 0) + 1;
      }
    }),
  );
  clearInterval(tick);
  const sorted = latencies.sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
  const rate = sorted.length / ((performance.now() - start) / 1000);
  return { rate, count: sorted.length, p50: pct(0.5), p99: pct(0.99), status };
}

process.once('message', async (load) => {
  process.send?.({ result: await run(load as Load) }, () => process.exit(0));
});
