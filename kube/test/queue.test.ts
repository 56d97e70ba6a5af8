// The work queue: dedupe, one worker per key, requeue while processing, backoff.
import { describe, expect, it } from 'vitest';
import { runWorkers, WorkQueue } from '../src/queue.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('keeps a key once however often it is added', async () => {
    const depths: number[] = [];
    const q = new WorkQueue({ onDepth: (d) => depths.push(d) });
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(depths.at(-1)).toBe(0);
  });

  it('never hands a key in processing to another worker, and processes it again if it changed', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a'); // changed while processing
    expect(q.depth).toBe(0);
    q.done(key as string);
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe('a');
  });

  it('runs N workers, one per key at a time, and retries failures with growing delays', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 1000 });
    const inFlight = new Set<string>();
    let overlap = false;
    let most = 0;
    const attempts = new Map<string, number>();
    const errors: number[] = [];
    const workers = runWorkers(
      q,
      4,
      async (key) => {
        if (inFlight.has(key)) overlap = true;
        inFlight.add(key);
        most = Math.max(most, inFlight.size);
        await tick(2);
        attempts.set(key, (attempts.get(key) ?? 0) + 1);
        inFlight.delete(key);
        if (key === 'flaky' && (attempts.get(key) ?? 0) < 3) throw new Error('boom');
        return undefined;
      },
      (_key, _err, retryIn) => errors.push(retryIn),
    );
    for (let round = 0; round < 5; round++)
      for (const k of ['a', 'b', 'c', 'd', 'e', 'flaky']) q.add(k);
    const deadline = Date.now() + 5000;
    while ((attempts.get('flaky') ?? 0) < 3 && Date.now() < deadline) await tick();
    await workers.stop();
    expect(overlap).toBe(false);
    expect(most).toBeGreaterThan(1);
    expect(errors).toEqual([10, 20]);
  });

  it('schedules a key for later, the earliest schedule winning', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 200);
    q.addAfter('a', 20);
    expect(q.depth).toBe(0);
    const t = Date.now();
    expect(await q.get()).toBe('a');
    expect(Date.now() - t).toBeLessThan(200);
  });

  it('stops its workers without losing keys added after', async () => {
    const q = new WorkQueue();
    const seen: string[] = [];
    const first = runWorkers(
      q,
      2,
      async (k) => {
        seen.push(k);
        return undefined;
      },
      () => {},
    );
    await first.stop();
    q.add('later');
    await tick();
    expect(seen).toEqual([]);
    const second = runWorkers(
      q,
      2,
      async (k) => {
        seen.push(k);
        return undefined;
      },
      () => {},
    );
    while (seen.length === 0) await tick();
    await second.stop();
    expect(seen).toEqual(['later']);
  });
});
