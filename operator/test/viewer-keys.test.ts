// The gateway's public keys as the operator takes them (viewer-keys.ts): public keys only,
// from a JWKS served over HTTP as the gateway serves it (its own key code), a change noticed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeySet, loadKeys } from '../../gateway/src/keys.ts';
import { publicKeys, ViewerKeys } from '../src/viewer-keys.ts';

describe('publicKeys', () => {
  const ec = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1', alg: 'ES256', use: 'sig' };
  it('takes a JWKS of public keys', () => {
    expect(publicKeys({ keys: [ec] })).toEqual([ec]);
  });
  it.each([
    [{ keys: [{ ...ec, d: 'secret' }] }, /private key \(member "d"\)/],
    [{ keys: [{ kty: 'oct', k: 'secret' }] }, /private key \(member "k"\)/],
    [{ keys: [] }, /not a JWKS/],
    [{ keys: [{ crv: 'P-256' }] }, /not a JWKS/],
    [[ec], /not a JWKS/],
    ['{}', /not a JWKS/],
    [null, /not a JWKS/],
  ])('refuses %j', (body, error) => expect(() => publicKeys(body)).toThrow(error));
});

describe('ViewerKeys', () => {
  let server: Server;
  let served: unknown;
  let status = 200;
  let url: string;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => server?.close());

  it('fetches the gateway’s public keys, keeps them, and tells of a rotation', async () => {
    const [one, two] = await Promise.all([generateKeySet(), generateKeySet()]);
    const first = await loadKeys(JSON.stringify(one));
    const rotated = await loadKeys(JSON.stringify({ keys: [...two.keys, ...one.keys] }));
    served = first.jwks;
    let changes = 0;
    const keys = new ViewerKeys({ url, onChange: () => changes++ });
    expect(await keys.current()).toEqual(first.jwks.keys);
    expect(JSON.stringify(await keys.current())).not.toMatch(/"d"/);
    await keys.refresh();
    expect(changes).toBe(0);
    served = rotated.jwks;
    expect(await keys.current()).toEqual(first.jwks.keys); // until the next refresh
    await keys.refresh();
    expect(changes).toBe(1);
    expect(await keys.current()).toEqual(rotated.jwks.keys);
    // the gateway away: the last keys stay
    status = 503;
    await expect(keys.refresh()).rejects.toThrow(/503/);
    expect(await keys.current()).toEqual(rotated.jwks.keys);
    status = 200;
  });

  it('fails without keys while none could be had', async () => {
    status = 503;
    await expect(new ViewerKeys({ url }).current()).rejects.toThrow(/503/);
    status = 200;
    served = { keys: [{ kty: 'EC', d: 'private' }] };
    await expect(new ViewerKeys({ url }).current()).rejects.toThrow(/private key/);
  });
});
