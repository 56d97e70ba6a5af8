// A process that holds a session edge (HAProxy on a port, nothing behind it) and prints
// `ready <port> <haproxy pid>`: for edge.test.ts to kill, as a gateway can be killed.
// node gateway/test/helpers/edge-alone.ts PORT
import { createServer } from 'node:net';
import pino from 'pino';
import { SessionEdge } from '../../src/edge/edge.ts';

const port = Number(process.argv[2]);
const edge = new SessionEdge({
  sessions: { settled: () => false },
  control: { cachedSession: () => undefined },
  log: pino({ level: 'warn' }),
});
await new Promise<void>((resolve) => createServer().listen(edge.gatewaySocket, resolve));
await edge.start({
  kind: 'haproxy',
  program: process.env.FLOE_GATEWAY_EDGE_PROGRAM ?? '/usr/sbin/haproxy',
  host: '127.0.0.1',
  port,
  threads: 1,
  cookieName: 'floe_session',
  security: [],
  refusedBody: '{}',
  badGatewayBody: '{}',
  accessLog: false,
  onExit: () => process.exit(1),
});
console.log(`ready ${port} ${edge.pid}`);
