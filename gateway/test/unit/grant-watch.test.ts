// A shared viewer's signalling socket is closed once its grant is no longer live, and kept
// while the check cannot be answered.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { endWhenRevoked } from '../../src/sessions/grant-watch.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('endWhenRevoked', () => {
  it('closes the socket when the grant is gone, not before', async () => {
    const socket = new PassThrough();
    let allowed = true;
    let checks = 0;
    endWhenRevoked(
      socket,
      async () => {
        checks++;
        return allowed;
      },
      10,
    );
    await sleep(50);
    expect(checks).toBeGreaterThan(1);
    expect(socket.destroyed).toBe(false);
    allowed = false;
    await sleep(50);
    expect(socket.destroyed).toBe(true);
  });

  it('keeps the viewer while the control plane does not answer, and stops checking once closed', async () => {
    const socket = new PassThrough();
    let checks = 0;
    endWhenRevoked(
      socket,
      async () => {
        checks++;
        throw new Error('control plane unreachable');
      },
      10,
    );
    await sleep(50);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
    await sleep(10);
    const after = checks;
    await sleep(50);
    expect(checks).toBe(after);
  });
});
