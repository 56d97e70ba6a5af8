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

  it('names every bad setting in one clear error', () => {
    expect(() =>
      loadConfig({ PORT: 'eighty', FLOE_ADMIN_TOKEN: 'short', FLOE_LOCAL_GPUS: 'l4' }),
    ).toThrow(/PORT[\s\S]*FLOE_ADMIN_TOKEN: must be at least 16 characters[\s\S]*FLOE_LOCAL_GPUS/);
  });
});
