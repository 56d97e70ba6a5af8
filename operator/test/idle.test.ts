// Asking the streamer for its last input: over HTTP at the pod's IP, unknown when unreachable.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pod } from '@floe/kube/resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdleProbe, parseLastInput } from '../src/idle.ts';

let body: unknown = { status: 'ok', lastInputAt: '2026-01-01T00:00:05.000Z' };
let asked = 0;
const server = createServer((_req, res) => {
  asked++;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
});
let port = 0;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server.close());

const pod = (podIP?: string): Pod => ({
  metadata: { name: 'p' },
  spec: { containers: [] },
  status: { podIP },
});

describe('idle probe', () => {
  it('parses the streamer /healthz answer', () => {
    expect(parseLastInput({ lastInputAt: '2026-01-01T00:00:00Z' })).toEqual(
      new Date('2026-01-01T00:00:00Z'),
    );
    expect(parseLastInput({ lastInputAt: null })).toBeNull();
    expect(parseLastInput({ lastInputAt: 'yesterday' })).toBeUndefined();
    expect(parseLastInput({})).toBeUndefined();
  });

  it('asks at most once per interval, and is unknown when unreachable', async () => {
    const probe = createIdleProbe({ intervalMs: 60_000, port });
    expect(await probe('ns/a', pod('127.0.0.1'))).toEqual(new Date('2026-01-01T00:00:05.000Z'));
    body = { lastInputAt: null };
    expect(await probe('ns/a', pod('127.0.0.1'))).toEqual(new Date('2026-01-01T00:00:05.000Z'));
    expect(asked).toBe(1);
    probe.forget('ns/a');
    expect(await probe('ns/a', pod('127.0.0.1'))).toBeNull();
    // before an idle stop the reconciler asks past the cache ("I'm still here" since)
    body = { lastInputAt: '2026-01-01T00:01:00.000Z' };
    expect(await probe('ns/a', pod('127.0.0.1'))).toBeNull();
    expect(await probe('ns/a', pod('127.0.0.1'), { fresh: true })).toEqual(
      new Date('2026-01-01T00:01:00.000Z'),
    );
    expect(asked).toBe(3);
    expect(await probe('ns/b', pod(undefined))).toBeUndefined();
    const closed = createIdleProbe({ intervalMs: 0, port: 1, timeoutMs: 500 });
    expect(await closed('ns/c', pod('127.0.0.1'))).toBeUndefined();
  });
});
