// Integration: real coturn started from renderCoturnConfig, probed over loopback.
// the type of inject('testbed')
import type {} from '@floe/testbed/vitest-setup';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TurnClient } from '../src/client.ts';
import { mintTurnCredentials } from '../src/credentials.ts';
import { probeTurnServer } from '../src/probe.ts';
import type { TurnError } from '../src/stun-transport.ts';
import {
  installedFeatures,
  newSecret,
  selfSignedCertificate,
  startTestCoturn,
  type TestCoturn,
} from './coturn.ts';

const HOUR_MS = 3_600_000;
const mint = (secret: string, now?: Date) =>
  mintTurnCredentials({ secret, sessionId: 'session-1', now });

describe('a server from the production config', () => {
  const secret = newSecret();
  let server: TestCoturn;
  beforeAll(async () => {
    server = await startTestCoturn({ secrets: [secret], allowedPeerRanges: ['10.244.0.0/16'] });
  });
  afterAll(() => server?.stop());

  it('accepts every option it was given', () => {
    const log = server.log();
    expect(log).toContain('Version Coturn');
    // coturn skips options it does not know with this line and starts anyway
    expect(log).not.toContain('Bad configuration format');
  });

  it.each(['udp', 'tcp'] as const)('allocates and releases over %s', async (transport) => {
    const result = await probeTurnServer({ url: server.url(transport), ...mint(secret) });
    expect(result).toEqual({ ok: true, rttMs: expect.any(Number) });
  });

  it('refuses an expired credential with 401', async () => {
    const expired = mint(secret, new Date(Date.now() - HOUR_MS));
    expect(expired.expiresAt.getTime()).toBeLessThan(Date.now());
    for (const transport of ['udp', 'tcp'] as const) {
      const result = await probeTurnServer({ url: server.url(transport), ...expired });
      expect(result).toEqual({ ok: false, error: expect.stringMatching(/Allocate refused .*401/) });
    }
  });

  it('refuses a credential signed with another secret with 401', async () => {
    const forged = mint(newSecret());
    const result = await probeTurnServer({ url: server.url('udp'), ...forged });
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/Allocate refused .*401/) });
  });

  it('refuses a credential for another username with 401', async () => {
    const { credential } = mint(secret);
    const other = mintTurnCredentials({ secret, sessionId: 'session-2' });
    const result = await probeTurnServer({ url: server.url('tcp'), ...other, credential });
    expect(result.ok).toBe(false);
  });

  it('relays to public and pod addresses but to no other private peer (403)', async () => {
    const client = await TurnClient.connect({
      url: server.url('udp'),
      ...mint(secret),
      signal: AbortSignal.timeout(10_000),
    });
    try {
      await client.allocate();
      const outcome = async (peer: string) =>
        client.createPermission(peer).then(
          () => 'permitted',
          (err: TurnError) => err.code,
        );
      // CreatePermission sends nothing to the peer: no traffic leaves loopback.
      for (const peer of ['10.244.3.4', '8.8.8.8']) expect(await outcome(peer)).toBe('permitted');
      for (const peer of [
        '127.0.0.1',
        '127.0.1.1',
        '10.1.2.3',
        '172.16.0.1',
        '192.168.1.1',
        '169.254.169.254',
        '100.64.0.1',
        '0.0.0.0',
        '224.0.0.1',
        '255.255.255.255',
      ]) {
        expect([peer, await outcome(peer)]).toEqual([peer, 403]);
      }
      await client.release();
    } finally {
      client.close();
    }
  });
});

describe('a server from the test-mode config', () => {
  const secret = newSecret();
  let server: TestCoturn;
  beforeAll(async () => {
    server = await startTestCoturn({ secrets: [secret], testMode: true });
  });
  afterAll(() => server?.stop());

  it('relays to loopback peers, and still to no other private peer', async () => {
    const client = await TurnClient.connect({
      url: server.url('tcp'),
      ...mint(secret),
      signal: AbortSignal.timeout(10_000),
    });
    try {
      const allocation = await client.allocate();
      expect(allocation.relayedAddress[0]).toBe('127.0.0.1');
      await client.createPermission('127.0.0.1');
      await expect(client.createPermission('10.1.2.3')).rejects.toMatchObject({ code: 403 });
      await client.release();
    } finally {
      client.close();
    }
  });
});

describe('secret rotation', () => {
  const current = newSecret();
  const previous = newSecret();
  const servers: TestCoturn[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.stop())));

  it('accepts credentials from both secrets while both are configured', async () => {
    const server = await startTestCoturn({ secrets: [current, previous] });
    servers.push(server);
    for (const secret of [current, previous]) {
      const result = await probeTurnServer({ url: server.url('udp'), ...mint(secret) });
      expect(result.ok).toBe(true);
    }
  });

  it('refuses the previous secret once it is dropped', async () => {
    const server = await startTestCoturn({ secrets: [current] });
    servers.push(server);
    expect((await probeTurnServer({ url: server.url('udp'), ...mint(current) })).ok).toBe(true);
    const old = await probeTurnServer({ url: server.url('udp'), ...mint(previous) });
    expect(old).toEqual({ ok: false, error: expect.stringMatching(/401/) });
  });
});

describe('TURNS', () => {
  const secret = newSecret();
  const cert = selfSignedCertificate();
  let server: TestCoturn;
  beforeAll(async () => {
    server = await startTestCoturn({
      secrets: [secret],
      tls: { certFile: cert.certFile, keyFile: cert.keyFile },
    });
  });
  afterAll(async () => {
    await server?.stop();
    cert.remove();
  });

  it('allocates over TLS with a trusted certificate', async () => {
    const result = await probeTurnServer({ url: server.tlsUrl!, ...mint(secret), ca: cert.pem });
    expect(result).toEqual({ ok: true, rttMs: expect.any(Number) });
  });

  it('fails on a certificate it cannot verify', async () => {
    const result = await probeTurnServer({ url: server.tlsUrl!, ...mint(secret) });
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/certificate/i) });
  });
});

describe('the probe', () => {
  it('calls a server that allocates without credentials an open relay', async () => {
    const server = await startTestCoturn({ secrets: [newSecret()] }, (config) =>
      config.replace(/^(use-auth-secret|static-auth-secret=.*)$/gm, '').concat('no-auth\n'),
    );
    try {
      const result = await probeTurnServer({ url: server.url('udp'), ...mint(newSecret()) });
      expect(result).toEqual({ ok: false, error: expect.stringMatching(/open relay/) });
    } finally {
      await server.stop();
    }
  });

  it('reports a stopped server on either transport', async () => {
    const secret = newSecret();
    const server = await startTestCoturn({ secrets: [secret] });
    await server.stop();
    for (const transport of ['udp', 'tcp'] as const) {
      const result = await probeTurnServer({
        url: server.url(transport),
        ...mint(secret),
        timeoutMs: 2_000,
      });
      expect(result).toEqual({ ok: false, error: expect.any(String) });
    }
  });

  it('works against the testbed coturn', async () => {
    const { url, secret } = inject('testbed').turn;
    expect(await probeTurnServer({ url, ...mint(secret) })).toMatchObject({ ok: true });
  });
});

describe('the Prometheus exporter', () => {
  it(`is ${installedFeatures.prometheus ? '' : 'not '}in this turnserver, as detected`, async () => {
    const server = await startTestCoturn({ secrets: [newSecret()], prometheus: { port: 9641 } });
    try {
      const skipped = server.log().includes('Bad configuration format: prometheus');
      expect(skipped).toBe(!installedFeatures.prometheus);
    } finally {
      await server.stop();
    }
  });
});
