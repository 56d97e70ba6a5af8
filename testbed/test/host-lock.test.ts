// The host-wide lock that serialises kwokctl creates across processes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { withHostLock } from '../src/host-lock.ts';

const lockModule = fileURLToPath(new URL('../src/host-lock.ts', import.meta.url));
const name = `floe-test-lock-${process.pid}`;

describe('withHostLock', () => {
  it('never runs two holders at once', async () => {
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3].map((i) =>
        withHostLock(
          name,
          async () => {
            inside++;
            most = Math.max(most, inside);
            await new Promise((r) => setTimeout(r, 20));
            order.push(i);
            inside--;
          },
          { timeoutMs: 10_000, pollMs: 5 },
        ),
      ),
    );
    expect(most).toBe(1);
    expect(order.sort()).toEqual([0, 1, 2, 3]);
  });

  it('waits for another process and is free once that process is SIGKILLed', async () => {
    // the child takes the lock, says so, and would hold it forever
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { withHostLock } from ${JSON.stringify(lockModule)};
         await withHostLock(${JSON.stringify(name)}, async () => {
           console.log('held');
           await new Promise(() => setInterval(() => {}, 1000));
         }, { timeoutMs: 10000 });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    let waited = false;
    await expect(
      withHostLock(name, async () => 'never', { timeoutMs: 300, pollMs: 20 }),
    ).rejects.toThrow(/still held by another process/);
    const acquired = withHostLock(name, async () => 'mine', {
      timeoutMs: 10_000,
      pollMs: 20,
      onWait: () => {
        waited = true;
      },
    });
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL'); // no clean-up of its own: the kernel frees the name
    await expect(acquired).resolves.toBe('mine');
    expect(waited).toBe(true);
  });
});
