// A lock shared by every process of this machine's network namespace, for work that races on
// machine-wide resources such as TCP ports.
import { createServer, type Server } from 'node:net';

/**
 * Runs `fn` while holding the lock `name`: a listening Unix socket in Linux's abstract
 * namespace. Only one process can listen on a name, and the kernel frees it when the holder
 * exits however it dies (SIGKILL included), so there is no stale lock file to take over and no
 * pid that could have been reused. Its scope is the network namespace: exactly the processes
 * that compete for the same loopback ports. Waits, polling, up to `timeoutMs`.
 */
export async function withHostLock<T>(
  name: string,
  fn: () => Promise<T>,
  opts: { timeoutMs: number; pollMs?: number; onWait?: () => void },
): Promise<T> {
  const server = await acquire(name, opts);
  try {
    return await fn();
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function acquire(
  name: string,
  opts: { timeoutMs: number; pollMs?: number; onWait?: () => void },
): Promise<Server> {
  const deadline = Date.now() + opts.timeoutMs;
  let waited = false;
  for (;;) {
    const server = createServer();
    const held = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        err.code === 'EADDRINUSE' ? resolve(false) : reject(err),
      );
      server.listen(`\0${name}`, () => resolve(true));
    });
    if (held) {
      server.unref(); // the lock must never keep the process alive
      return server;
    }
    if (!waited) opts.onWait?.();
    waited = true;
    if (Date.now() > deadline) {
      throw new Error(`lock ${name} still held by another process after ${opts.timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
  }
}
