import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

const base = {
  FLOE_GATEWAY_ISSUER: 'https://floe.example',
  FLOE_CONTROL_URL: 'http://control:8080/',
  FLOE_GATEWAY_CONTROL_TOKEN: 'floe_0123456789abcdef',
};

describe('loadConfig', () => {
  it('fills in defaults', () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({
      FLOE_GATEWAY_PORT: 8081,
      FLOE_GATEWAY_ISSUER: 'https://floe.example',
      FLOE_CONTROL_URL: 'http://control:8080',
      FLOE_GATEWAY_SESSION_TTL_SECONDS: 900,
      FLOE_GATEWAY_BODY_LIMIT_BYTES: 1024 * 1024,
      FLOE_TURN_URLS: [],
    });
  });

  it('puts the edge in front only when asked, and then with one gateway process', () => {
    expect(loadConfig(base).FLOE_GATEWAY_EDGE).toBe('off');
    const edged = loadConfig({ ...base, FLOE_GATEWAY_EDGE: 'haproxy' });
    expect(edged).toMatchObject({ FLOE_GATEWAY_EDGE: 'haproxy', FLOE_GATEWAY_EDGE_THREADS: 1 });
    // the program by default: /usr/sbin/haproxy, or floe-edge built from gateway/edge-proxy
    expect(edged.FLOE_GATEWAY_EDGE_PROGRAM).toBeUndefined();
    expect(loadConfig({ ...base, FLOE_GATEWAY_EDGE: 'floe-edge' }).FLOE_GATEWAY_EDGE).toBe(
      'floe-edge',
    );
    expect(() => loadConfig({ ...base, FLOE_GATEWAY_EDGE: 'nginx' })).toThrow(/FLOE_GATEWAY_EDGE/);
    expect(() =>
      loadConfig({
        ...base,
        FLOE_GATEWAY_EDGE: 'haproxy',
        FLOE_GATEWAY_WORKERS: '2',
        FLOE_GATEWAY_KEYS: '{"keys":[]}',
      }),
    ).toThrow(/FLOE_GATEWAY_WORKERS: must be 1 with FLOE_GATEWAY_EDGE/);
  });

  it('runs one process unless told otherwise, and several only with shared keys', () => {
    expect(loadConfig(base).FLOE_GATEWAY_WORKERS).toBe(1);
    const keys = '{"keys":[]}';
    expect(
      loadConfig({ ...base, FLOE_GATEWAY_WORKERS: '2', FLOE_GATEWAY_KEYS: keys })
        .FLOE_GATEWAY_WORKERS,
    ).toBe(2);
    expect(
      loadConfig({ ...base, FLOE_GATEWAY_WORKERS: 'auto', FLOE_GATEWAY_KEYS: keys })
        .FLOE_GATEWAY_WORKERS,
    ).toBe(availableParallelism());
    expect(() => loadConfig({ ...base, FLOE_GATEWAY_WORKERS: '2' })).toThrow(
      /FLOE_GATEWAY_KEYS: is required when FLOE_GATEWAY_WORKERS is above 1/,
    );
    for (const bad of ['0', '-1', '1.5', 'many']) {
      expect(() =>
        loadConfig({ ...base, FLOE_GATEWAY_WORKERS: bad, FLOE_GATEWAY_KEYS: keys }),
      ).toThrow(/FLOE_GATEWAY_WORKERS/);
    }
  });

  it('allows plain http for loopback only', () => {
    expect(
      loadConfig({ ...base, FLOE_GATEWAY_ISSUER: 'http://127.0.0.1:8081' }).FLOE_GATEWAY_ISSUER,
    ).toBe('http://127.0.0.1:8081');
    expect(() => loadConfig({ ...base, FLOE_GATEWAY_ISSUER: 'http://floe.example' })).toThrow(
      /FLOE_GATEWAY_ISSUER: must be https/,
    );
  });

  it('names what is wrong', () => {
    expect(() => loadConfig({ ...base, FLOE_GATEWAY_ISSUER: 'https://floe.example/app' })).toThrow(
      /FLOE_GATEWAY_ISSUER: must be an origin/,
    );
    expect(() => loadConfig({ ...base, FLOE_GATEWAY_CONTROL_TOKEN: undefined })).toThrow(
      /FLOE_GATEWAY_CONTROL_TOKEN/,
    );
    expect(() => loadConfig({ ...base, FLOE_TURN_URLS: 'turn:turn.example:3478' })).toThrow(
      /FLOE_TURN_SECRET: FLOE_TURN_SECRET is required/,
    );
    expect(() =>
      loadConfig({
        ...base,
        FLOE_GATEWAY_SESSION_TTL_SECONDS: '3600',
        FLOE_GATEWAY_SESSION_MAX_SECONDS: '600',
      }),
    ).toThrow(/FLOE_GATEWAY_SESSION_TTL_SECONDS/);
    expect(() => loadConfig({ ...base, FLOE_OIDC_SCOPES: 'email profile' })).toThrow(/openid/);
  });
});
