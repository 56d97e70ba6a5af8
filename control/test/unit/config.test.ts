import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('applies defaults and parses the local runner’s GPUs', () => {
    const config = loadConfig({ FLOE_LOCAL_GPUS: 'l4:1,a100:2' });
    expect(config).toMatchObject({ PORT: 8080, HOST: '127.0.0.1', FLOE_DATA_DIR: '.floe' });
    expect(config.FLOE_LOCAL_GPUS).toEqual([
      { sku: 'l4', count: 1 },
      { sku: 'a100', count: 2 },
    ]);
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('closes billing periods 72 h after their end unless told otherwise', () => {
    expect(loadConfig({}).FLOE_BILLING_AUTO_CLOSE_HOURS).toBe(72);
    expect(loadConfig({ FLOE_BILLING_AUTO_CLOSE_HOURS: '0' }).FLOE_BILLING_AUTO_CLOSE_HOURS).toBe(
      0,
    );
    expect(loadConfig({ FLOE_BILLING_AUTO_CLOSE_HOURS: 'off' }).FLOE_BILLING_AUTO_CLOSE_HOURS).toBe(
      'off',
    );
    expect(() => loadConfig({ FLOE_BILLING_AUTO_CLOSE_HOURS: '-1' })).toThrow(
      /FLOE_BILLING_AUTO_CLOSE_HOURS/,
    );
    expect(() => loadConfig({ FLOE_BILLING_AUTO_CLOSE_HOURS: 'soon' })).toThrow(
      /FLOE_BILLING_AUTO_CLOSE_HOURS/,
    );
  });

  it('names every bad setting in one clear error', () => {
    expect(() =>
      loadConfig({ PORT: 'eighty', FLOE_ADMIN_TOKEN: 'short', FLOE_LOCAL_GPUS: 'l4' }),
    ).toThrow(/PORT[\s\S]*FLOE_ADMIN_TOKEN: must be at least 16 characters[\s\S]*FLOE_LOCAL_GPUS/);
  });

  it('checks the secret key and wants the gateway JWKS and issuer together', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(loadConfig({ FLOE_SECRET_KEY: key }).FLOE_SECRET_KEY).toBe(key);
    expect(() => loadConfig({ FLOE_SECRET_KEY: 'c2hvcnQ=' })).toThrow(
      /FLOE_SECRET_KEY: must be 32 bytes in base64/,
    );
    expect(() => loadConfig({ FLOE_GATEWAY_JWKS_URL: 'https://gw.example/jwks.json' })).toThrow(
      /FLOE_GATEWAY_ISSUER: FLOE_GATEWAY_JWKS_URL and FLOE_GATEWAY_ISSUER are set together/,
    );
    expect(() => loadConfig({ FLOE_GATEWAY_ISSUER: 'https://gw.example' })).toThrow(
      /FLOE_GATEWAY_JWKS_URL/,
    );
    expect(() =>
      loadConfig({ FLOE_GATEWAY_JWKS_URL: 'ftp://gw.example/jwks', FLOE_GATEWAY_ISSUER: 'x' }),
    ).toThrow(/FLOE_GATEWAY_JWKS_URL/);
    const both = loadConfig({
      FLOE_GATEWAY_JWKS_URL: 'https://gw.example/jwks.json',
      FLOE_GATEWAY_ISSUER: 'https://gw.example',
    });
    expect(both.FLOE_GATEWAY_ISSUER).toBe('https://gw.example');
  });

  it('parses the webhook settings: private targets off by default, the cluster’s CIDRs', () => {
    expect(loadConfig({})).toMatchObject({
      FLOE_WEBHOOK_ALLOW_PRIVATE: 'off',
      FLOE_WEBHOOK_DENY_CIDRS: [],
      FLOE_WEBHOOK_WORKER: 'on',
    });
    expect(
      loadConfig({ FLOE_WEBHOOK_DENY_CIDRS: '10.96.0.0/12, fd00:10::/108' })
        .FLOE_WEBHOOK_DENY_CIDRS,
    ).toEqual(['10.96.0.0/12', 'fd00:10::/108']);
    expect(() => loadConfig({ FLOE_WEBHOOK_DENY_CIDRS: '10.96.0.0' })).toThrow(
      /FLOE_WEBHOOK_DENY_CIDRS.*a CIDR block/,
    );
  });
});
