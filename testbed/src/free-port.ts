// A port for a test server that must be known before the server starts (it goes into a
// provider's redirect URIs, a config, a URL handed to another process).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Where the kernel's ephemeral range starts: listen(0) answers from that range, and every
 * outgoing connection takes its local port there. A port picked there and bound seconds
 * later can be taken by any connection in between (it was: a gateway test's port, in a
 * parallel CI run).
 */
function ephemeralStart(): number {
  try {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    if (low > 1024) return low;
  } catch {
    // not Linux: the IANA range
  }
  return 49152;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free port on 127.0.0.1 below the ephemeral range, so that no outgoing connection takes
 * it before the caller binds it. Only another caller's random pick can, 1 in thousands.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralStart();
  const floor = Math.min(20000, low - 1000);
  for (let tries = 0; tries < 50; tries++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found between ${floor} and ${low}`);
}
