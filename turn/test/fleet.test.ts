import { afterEach, describe, expect, it } from 'vitest';
import {
  applyProbeResult,
  chooseServers,
  initialHealth,
  type ServerHealth,
  TurnFleet,
} from '../src/fleet.ts';
import { newSecret, startTestCoturn, type TestCoturn } from './coturn.ts';

const T0 = new Date(1_700_000_000_000);
const later = (ms: number) => new Date(T0.getTime() + ms);
const ok = (rttMs: number) => ({ ok: true as const, rttMs });
const failed = { ok: false as const, error: 'Allocate refused: 401 Unauthorized' };

describe('applyProbeResult', () => {
  const fresh = initialHealth({ url: 'turn:a.example', region: 'eu' });

  it('is unhealthy until a probe succeeds, healthy after one', () => {
    expect(fresh.healthy).toBe(false);
    const down = applyProbeResult(fresh, failed, T0, 2);
    expect(down).toMatchObject({ healthy: false, lastError: failed.error, consecutiveFailures: 1 });
    expect(applyProbeResult(down, ok(12), later(1), 2)).toMatchObject({
      healthy: true,
      rttMs: 12,
      lastError: undefined,
      consecutiveFailures: 0,
      probedAt: later(1),
    });
  });

  it('turns unhealthy after downAfter failures in a row', () => {
    const up = applyProbeResult(fresh, ok(5), T0, 2);
    const once = applyProbeResult(up, failed, later(1), 2);
    expect(once).toMatchObject({ healthy: true, consecutiveFailures: 1, lastError: failed.error });
    expect(applyProbeResult(once, failed, later(2), 2).healthy).toBe(false);
    expect(applyProbeResult(up, failed, later(1), 1).healthy).toBe(false);
  });

  it('ignores a probe that started before the one it already reflects', () => {
    const up = applyProbeResult(fresh, ok(5), later(10), 1);
    expect(applyProbeResult(up, failed, later(5), 1)).toBe(up);
  });
});

describe('chooseServers', () => {
  const health = (url: string, region: string | undefined, healthy: boolean, rttMs?: number) =>
    ({ ...initialHealth({ url, region }), healthy, rttMs }) satisfies ServerHealth;
  const servers = [
    health('turn:us-1', 'us', true, 5),
    health('turn:eu-slow', 'eu', true, 40),
    health('turn:eu-down', 'eu', false, 1),
    health('turn:eu-fast', 'eu', true, 20),
    health('turn:any', undefined, true, 2),
  ];
  const urls = (list: ServerHealth[]) => list.map((s) => s.url);

  it('offers healthy servers, the client region first, then by round trip', () => {
    expect(urls(chooseServers(servers, { region: 'eu' }))).toEqual([
      'turn:eu-fast',
      'turn:eu-slow',
      'turn:any',
      'turn:us-1',
    ]);
  });

  it('sorts by round trip alone without a region, and takes a limit', () => {
    expect(urls(chooseServers(servers))).toEqual([
      'turn:any',
      'turn:us-1',
      'turn:eu-fast',
      'turn:eu-slow',
    ]);
    expect(urls(chooseServers(servers, { region: 'us', limit: 2 }))).toEqual([
      'turn:us-1',
      'turn:any',
    ]);
  });

  it('offers nothing when nothing is healthy', () => {
    expect(chooseServers([health('turn:x', 'eu', false, 1)], { region: 'eu' })).toEqual([]);
  });
});

describe('TurnFleet settings', () => {
  it('refuses bad URLs, duplicates and no servers, naming the setting', () => {
    const secret = newSecret();
    expect(() => new TurnFleet({ servers: [], secret })).toThrow(/servers: needs at least one/);
    expect(() => new TurnFleet({ servers: [{ url: 'stun:x' }], secret })).toThrow(
      /servers\[0\]\.url: bad TURN URL/,
    );
    expect(
      () => new TurnFleet({ servers: [{ url: 'turn:x' }, { url: 'turn:x' }], secret }),
    ).toThrow(/servers: server URLs must be unique/);
  });

  it('signs its probes with either the secret or a minted credential, never neither or both', () => {
    const secret = newSecret();
    const servers = [{ url: 'turn:x' }];
    const credential = { username: '1:s', credential: 'c' };
    expect(() => new TurnFleet({ servers })).toThrow(
      /secret: set either the secret or a credential/,
    );
    expect(() => new TurnFleet({ servers, secret, credential })).toThrow(/set either the secret/);
    expect(() => new TurnFleet({ servers, credential })).not.toThrow();
    expect(() => new TurnFleet({ servers, secret })).not.toThrow();
  });
});

describe('TurnFleet against real coturn', () => {
  const secret = newSecret();
  const running: TestCoturn[] = [];
  let fleet: TurnFleet | undefined;
  afterEach(async () => {
    await fleet?.stop();
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });

  async function twoServers() {
    const a = await startTestCoturn({ secrets: [secret] });
    const b = await startTestCoturn({ secrets: [secret] });
    running.push(a, b);
    return [a, b] as const;
  }

  it('marks a stopped server unhealthy and stops offering it', async () => {
    const [a, b] = await twoServers();
    fleet = new TurnFleet({
      servers: [
        { url: a.url('udp'), region: 'eu' },
        { url: b.url('tcp'), region: 'us' },
      ],
      secret,
      timeoutMs: 2_000,
      downAfter: 2,
    });
    await fleet.checkNow();
    expect(fleet.healthy().map((s) => s.url)).toEqual([a.url('udp'), b.url('tcp')]);
    expect(fleet.choose({ region: 'us' }).map((s) => s.url)).toEqual([b.url('tcp'), a.url('udp')]);

    await b.stop();
    await fleet.checkNow();
    // one failure is tolerated (downAfter: 2) but recorded
    expect(fleet.status()[1]).toMatchObject({ healthy: true, consecutiveFailures: 1 });
    await fleet.checkNow();
    const [stillUp, down] = fleet.status();
    expect(stillUp).toMatchObject({ healthy: true, rttMs: expect.any(Number) });
    expect(down).toMatchObject({ healthy: false, lastError: expect.any(String) });
    expect(fleet.choose({ region: 'us' }).map((s) => s.url)).toEqual([a.url('udp')]);
  });

  it('probes on its own once started, and reports changes', async () => {
    const [a, b] = await twoServers();
    const changes: { url: string; healthy: boolean }[] = [];
    let notify: () => void = () => {};
    fleet = new TurnFleet({
      servers: [{ url: a.url('udp') }, { url: b.url('udp') }],
      secret,
      intervalMs: 100,
      timeoutMs: 2_000,
      downAfter: 1,
      onChange: ({ url, healthy }) => {
        changes.push({ url, healthy });
        notify();
      },
    });
    const until = (done: () => boolean) =>
      new Promise<void>((resolve) => {
        notify = () => done() && resolve();
        notify();
      });
    fleet.start();
    await until(() => changes.length === 2);
    expect(changes).toEqual(
      expect.arrayContaining([
        { url: a.url('udp'), healthy: true },
        { url: b.url('udp'), healthy: true },
      ]),
    );
    await b.stop();
    await until(() => changes.length === 3);
    expect(changes[2]).toEqual({ url: b.url('udp'), healthy: false });
    expect(fleet.healthy().map((s) => s.url)).toEqual([a.url('udp')]);
  });
});
