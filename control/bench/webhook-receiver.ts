// The benchmark's webhook receiver, in a process of its own: verifies every delivery with
// the standardwebhooks library (as a tenant's receiver would) and records, per event, the
// delay from the transition (the payload's timestamp, set in the transition's transaction)
// to its arrival here. Driven by messages from control/bench/webhooks.ts.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

let verifier: Webhook | null = null;
let delays: number[] = [];
let ids = new Set<string>();
let duplicates = 0;
let raw = 0;
let invalid = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      const event = verifier!.verify(body, req.headers as Record<string, string>) as {
        timestamp: string;
      };
      if (req.url === '/raw') raw++;
      else {
        const id = String(req.headers['webhook-id']);
        if (ids.has(id)) duplicates++;
        ids.add(id);
        delays.push(Date.now() - Date.parse(event.timestamp));
      }
      res.writeHead(204).end();
    } catch {
      invalid++;
      res.writeHead(400).end();
    }
  });
});

process.on('message', (m: { secret?: string; report?: boolean; reset?: boolean }) => {
  if (m.secret) verifier = new Webhook(m.secret);
  if (m.reset) {
    delays = [];
    ids = new Set();
    duplicates = 0;
    raw = 0;
    invalid = 0;
  }
  if (m.report) process.send!({ delays, duplicates, raw, invalid, count: delays.length });
});
server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
