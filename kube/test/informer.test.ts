// The informer's list/watch loop against a scripted ListerWatcher: resume from the last
// resourceVersion, bookmarks, 410 → re-list, backoff with jitter after errors, resync.
import { describe, expect, it } from 'vitest';
import { backoffDelay, Informer, type ListerWatcher, type ListResult } from '../src/informer.ts';
import { KubeApiError, type WatchEvent } from '../src/kube.ts';
import type { KubeObject } from '../src/resources.ts';

const obj = (name: string, rv: string): KubeObject => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});

type Step =
  | { list: ListResult<KubeObject> }
  | { listError: Error }
  | { watch: WatchEvent<KubeObject>[]; failWith?: Error };

/** Plays `steps` in order: each list() / watch() call takes the next one. */
function scripted(steps: Step[]) {
  const calls: string[] = [];
  const next = () => {
    const s = steps.shift();
    if (!s) return new Promise<never>(() => {}); // nothing more: hang like a quiet watch
    return s;
  };
  const lw: ListerWatcher<KubeObject> = {
    async list() {
      calls.push('list');
      const s = await next();
      if ('listError' in s) throw s.listError;
      if (!('list' in s)) throw new Error(`expected a list step, got ${JSON.stringify(s)}`);
      return s.list;
    },
    async watch(rv, onEvent, signal) {
      calls.push(`watch@${rv}`);
      const s = await Promise.race([
        next(),
        new Promise<never>((_, rej) =>
          signal.addEventListener('abort', () => rej(new Error('aborted'))),
        ),
      ]);
      if (!('watch' in s)) throw new Error(`expected a watch step, got ${JSON.stringify(s)}`);
      for (const ev of s.watch) onEvent(ev);
      if (s.failWith) throw s.failWith;
    },
  };
  return { lw, calls };
}

const until = async (cond: () => boolean) => {
  const deadline = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 1));
  }
};

describe('Informer', () => {
  it('lists, watches from the list, follows events and bookmarks, and resumes where it was', async () => {
    const { lw, calls } = scripted([
      { list: { items: [obj('a', '1')], metadata: { resourceVersion: '10' } } },
      {
        watch: [
          { type: 'ADDED', object: obj('b', '11') },
          { type: 'MODIFIED', object: obj('a', '12') },
          { type: 'BOOKMARK', object: obj('', '15') },
        ],
      }, // the server ends the watch normally
      { watch: [{ type: 'DELETED', object: obj('b', '16') }] },
    ]);
    const events: string[] = [];
    const inf = new Informer(lw, {
      name: 't',
      onEvent: (e, o) => events.push(`${e} ${o.metadata.name}`),
    });
    inf.start();
    await until(() => events.length === 4);
    await inf.stop();
    expect(calls).toEqual(['list', 'watch@10', 'watch@15', 'watch@16']);
    expect(events).toEqual(['add a', 'add b', 'update a', 'delete b']);
    expect(inf.keys()).toEqual(['ns/a']);
    expect(inf.hasSynced).toBe(true);
  });

  it('re-lists on 410 Gone (an ERROR event), reporting objects deleted meanwhile', async () => {
    const gone = {
      type: 'ERROR',
      object: { code: 410, reason: 'Expired', message: 'too old resource version' },
    } as unknown as WatchEvent<KubeObject>;
    const { lw, calls } = scripted([
      { list: { items: [obj('a', '1'), obj('b', '2')], metadata: { resourceVersion: '10' } } },
      { watch: [gone] },
      { list: { items: [obj('a', '1')], metadata: { resourceVersion: '50' } } },
    ]);
    const events: string[] = [];
    const inf = new Informer(lw, {
      name: 't',
      onEvent: (e, o) => events.push(`${e} ${o.metadata.name}`),
    });
    inf.start();
    await until(() => calls.length === 4);
    await inf.stop();
    expect(calls).toEqual(['list', 'watch@10', 'list', 'watch@50']);
    expect(events).toEqual(['add a', 'add b', 'delete b']);
    expect(inf.stats.gone).toBe(1);
  });

  it('re-lists on a 410 answer to the watch request too', async () => {
    const { lw, calls } = scripted([
      { list: { items: [], metadata: { resourceVersion: '10' } } },
      { watch: [], failWith: new KubeApiError(410, 'Expired', 'gone', 'watch') },
      { list: { items: [], metadata: { resourceVersion: '20' } } },
    ]);
    const inf = new Informer(lw, { name: 't', onEvent: () => {} });
    inf.start();
    await until(() => calls.length === 4);
    await inf.stop();
    expect(calls).toEqual(['list', 'watch@10', 'list', 'watch@20']);
  });

  it('retries failures forever with growing, jittered delays, and reports the connection', async () => {
    const { lw, calls } = scripted([
      { listError: new Error('connection refused') },
      { listError: new Error('connection refused') },
      { list: { items: [], metadata: { resourceVersion: '5' } } },
      { watch: [], failWith: new KubeApiError(500, 'InternalError', 'etcd', 'watch') },
    ]);
    const waits: number[] = [];
    const connected: boolean[] = [];
    const inf = new Informer(lw, {
      name: 't',
      onEvent: () => {},
      backoff: { baseMs: 100, maxMs: 1000, jitter: 0.5 },
      random: () => 1,
      sleep: async (ms) => {
        waits.push(ms);
      },
      onConnected: (c) => connected.push(c),
    });
    inf.start();
    await until(() => calls.length === 5);
    await inf.stop();
    // the failed watch resumes from its resourceVersion, no re-list needed
    expect(calls).toEqual(['list', 'list', 'list', 'watch@5', 'watch@5']);
    // the list's success resets the count: the watch's failure waits as a first one
    expect(waits).toEqual([150, 300, 150]);
    expect(connected).toEqual([true, false, true, false]);
  });

  it('after an error, optionally re-lists: reports each list, vanished objects and failure counts', async () => {
    const { lw, calls } = scripted([
      { list: { items: [obj('a', '1'), obj('b', '2')], metadata: { resourceVersion: '5' } } },
      { watch: [], failWith: new Error('connection reset') },
      { listError: new Error('connection refused') },
      { list: { items: [obj('a', '1')], metadata: { resourceVersion: '9' } } },
    ]);
    const events: string[] = [];
    const failures: number[] = [];
    const inf: Informer<KubeObject> = new Informer(lw, {
      name: 't',
      relistAfterError: true,
      onEvent: (e, o, listed) => events.push(`${e} ${o.metadata.name}${listed ? ' (listed)' : ''}`),
      onListed: () => events.push(`listed ${inf.keys().join(',')}`),
      onError: (_, __, n) => failures.push(n),
      sleep: async () => {},
    });
    inf.start();
    await until(() => calls.length === 5);
    await inf.stop();
    expect(calls).toEqual(['list', 'watch@5', 'list', 'list', 'watch@9']);
    expect(events).toEqual([
      'add a (listed)',
      'add b (listed)',
      'listed ns/a,ns/b',
      'delete b (listed)',
      'listed ns/a',
    ]);
    expect(failures).toEqual([1, 2]);
  });

  it('retryNow ends a backoff wait at once', async () => {
    const { lw, calls } = scripted([
      { listError: new Error('connection refused') },
      { list: { items: [], metadata: { resourceVersion: '1' } } },
    ]);
    const inf = new Informer(lw, {
      name: 't',
      onEvent: () => {},
      backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 },
    });
    inf.start();
    await until(() => calls.length === 1);
    await new Promise((r) => setTimeout(r, 10));
    inf.retryNow();
    await until(() => calls.length === 3);
    await inf.stop();
    expect(calls).toEqual(['list', 'list', 'watch@1']);
    expect(inf.hasSynced).toBe(true);
  });

  it('computes backoff: doubling, capped, stretched by jitter', () => {
    const b = { baseMs: 500, maxMs: 30_000, jitter: 0.5 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, b, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(20, b, () => 0)).toBe(30_000);
    expect(backoffDelay(1, b, () => 1)).toBe(750);
  });

  it('hands every cached object to the handler again on resync', async () => {
    const { lw } = scripted([
      { list: { items: [obj('a', '1'), obj('b', '2')], metadata: { resourceVersion: '3' } } },
    ]);
    const events: string[] = [];
    const inf = new Informer(lw, {
      name: 't',
      resyncMs: 20,
      onEvent: (e, o) => events.push(`${e} ${o.metadata.name}`),
    });
    inf.start();
    await until(() => events.filter((e) => e.startsWith('resync')).length >= 4);
    await inf.stop();
    expect(events.slice(0, 4)).toEqual(['add a', 'add b', 'resync a', 'resync b']);
  });
});
