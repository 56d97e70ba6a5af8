// The signalling opens only with the gateway's viewer token for this session: minted by the
// gateway's own code, verified by the streamer against a JWKS served over HTTP as the gateway
// serves it. No token, a token for another session, a stale or foreign one: 401, no viewer.
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mintViewerToken } from '../../gateway/src/auth/viewer-token.ts';
import { type GatewayKeys, generateKeySet, loadKeys } from '../../gateway/src/keys.ts';
import { loadStreamerConfig } from '../src/config.ts';
import { bareDesktop } from '../src/desktop.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';

const SESSION = '0190a0b0-0000-7000-8000-000000000001';
let keys: GatewayKeys;
let stranger: GatewayKeys;
let jwks: Server;
let issuer: string;
let streamer: Streamer;

beforeAll(async () => {
  keys = await loadKeys(JSON.stringify(await generateKeySet()));
  stranger = await loadKeys(JSON.stringify(await generateKeySet()));
  jwks = createServer((req, res) => {
    res.writeHead(req.url === '/.well-known/jwks.json' ? 200 : 404, {
      'content-type': 'application/json',
    });
    res.end(JSON.stringify(keys.jwks));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
  const config = loadStreamerConfig({
    DISPLAY: ':0',
    FLOE_STREAMER_PORT: '0',
    FLOE_SESSION_ID: SESSION,
    FLOE_VIEWER_ISSUER: issuer,
    FLOE_VIEWER_JWKS_URL: `${issuer}/.well-known/jwks.json`,
  });
  streamer = await startStreamer(config, bareDesktop(640, 480), pino({ level: 'silent' }));
});
afterAll(async () => {
  await streamer?.close();
  jwks?.close();
});

/** Opens the signalling with `token`: the welcome's type, or the HTTP status it was refused with. */
function open(token?: string, to: Streamer = streamer): Promise<string | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${to.url.replace('http', 'ws')}signal`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('message', (data) => {
      resolve(JSON.parse(data.toString()).type);
      ws.close();
    });
    ws.once('error', reject);
  });
}

const now = () => Math.floor(Date.now() / 1000);
const owner = { sessionId: SESSION, userId: 'u-1', role: 'owner' as const };

describe('viewer tokens', () => {
  it('welcome the owner the gateway vouches for', async () => {
    expect(await open(await mintViewerToken(keys, issuer, owner))).toBe('welcome');
  });

  it('refuse a connection without one, or with one not for this session', async () => {
    expect(await open()).toBe(401);
    expect(await open('not.a.token')).toBe(401);
    const other = await mintViewerToken(keys, issuer, { ...owner, sessionId: 'another' });
    expect(await open(other)).toBe(401);
    expect(await open(await mintViewerToken(stranger, issuer, owner))).toBe(401);
    expect(await open(await mintViewerToken(keys, 'https://evil.example', owner))).toBe(401);
    const expired = await mintViewerToken(keys, issuer, owner, now() - 3600);
    expect(await open(expired)).toBe(401);
  });

  it('refuse the gateway’s other tokens (an identity token is not a viewer token)', async () => {
    const identity = await new SignJWT({ role: 'owner' })
      .setProtectedHeader({ alg: 'ES256', kid: keys.signing.kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(`floe-session:${SESSION}`)
      .setSubject('u-1')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(keys.signing.privateKey);
    expect(await open(identity)).toBe(401);
    const roleless = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: keys.signing.kid, typ: 'floe-viewer+jwt' })
      .setIssuer(issuer)
      .setAudience(`floe-session:${SESSION}`)
      .setSubject('u-1')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(keys.signing.privateKey);
    expect(await open(roleless)).toBe(401);
  });
});

describe('viewer tokens checked against a JWKS file (a pod’s ConfigMap)', () => {
  let fileStreamer: Streamer;
  let file: string;
  /** writes the file as the kubelet updates a ConfigMap volume: a new file swapped in */
  const publish = (jwks: unknown) => {
    writeFileSync(`${file}.new`, JSON.stringify(jwks));
    renameSync(`${file}.new`, file);
  };
  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'floe-viewer-keys-')), 'jwks.json');
    publish(keys.jwks);
    const config = loadStreamerConfig({
      DISPLAY: ':0',
      FLOE_STREAMER_PORT: '0',
      FLOE_SESSION_ID: SESSION,
      FLOE_VIEWER_ISSUER: issuer,
      FLOE_VIEWER_JWKS_FILE: file,
    });
    fileStreamer = await startStreamer(config, bareDesktop(640, 480), pino({ level: 'silent' }));
  });
  afterAll(() => fileStreamer?.close());

  const openFile = (token?: string) => open(token, fileStreamer);

  it('welcome the owner, refuse the rest, with no network path to the gateway', async () => {
    expect(await openFile(await mintViewerToken(keys, issuer, owner))).toBe('welcome');
    expect(await openFile()).toBe(401);
    expect(await openFile(await mintViewerToken(stranger, issuer, owner))).toBe(401);
    const other = await mintViewerToken(keys, issuer, { ...owner, sessionId: 'another' });
    expect(await openFile(other)).toBe(401);
  });

  it('follow a rotation as soon as the file has the new key, and fail closed without one', async () => {
    const rotated = await mintViewerToken(stranger, issuer, owner);
    expect(await openFile(rotated)).toBe(401);
    publish({ keys: [...stranger.jwks.keys, ...keys.jwks.keys] });
    expect(await openFile(rotated)).toBe('welcome');
    expect(await openFile(await mintViewerToken(keys, issuer, owner))).toBe('welcome');
    publish({ keys: stranger.jwks.keys });
    expect(await openFile(await mintViewerToken(keys, issuer, owner))).toBe(401);
    writeFileSync(file, 'not json');
    expect(await openFile(rotated)).toBe(401);
    publish(stranger.jwks);
    expect(await openFile(rotated)).toBe('welcome');
  });

  it('need the issuer with exactly one source of keys', () => {
    const base = { DISPLAY: ':0', FLOE_VIEWER_ISSUER: issuer };
    expect(() => loadStreamerConfig(base)).toThrow(/FLOE_VIEWER_ISSUER/);
    expect(() =>
      loadStreamerConfig({ ...base, FLOE_VIEWER_JWKS_FILE: file, FLOE_VIEWER_JWKS_URL: issuer }),
    ).toThrow(/FLOE_VIEWER_ISSUER/);
    expect(() => loadStreamerConfig({ DISPLAY: ':0', FLOE_VIEWER_JWKS_FILE: file })).toThrow(
      /FLOE_VIEWER_ISSUER/,
    );
  });
});
