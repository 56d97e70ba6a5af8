import { describe, expect, it } from 'vitest';
import {
  type GpuHoursState,
  gpuHoursDecision,
  quotaMessage,
  quotaRetryAfterSeconds,
} from '../../src/domain/quota.ts';
import { secondsUntilToken } from '../../src/sessions/launch-rate.ts';

describe('quotaMessage', () => {
  it('names the quota, its limit and what is held', () => {
    expect(quotaMessage({ quota: 'tenant.maxSessions', used: 5, limit: 5 })).toBe(
      'quota tenant.maxSessions exceeded: the tenant allows 5 concurrent sessions (5 active)',
    );
    expect(quotaMessage({ quota: 'tenant.gpuHoursPerMonth', used: 10.04, limit: 10 })).toMatch(
      /10\.0 of its 10 GPU-hours/,
    );
  });

  it.each([
    [
      'tenant.maxGpusPerSku',
      'l4',
      4,
      3,
      'quota tenant.maxGpusPerSku[l4] exceeded: the tenant allows 4 l4 GPUs (3 in use)',
    ],
    [
      'user.maxGpusPerSku',
      'a100',
      1,
      1,
      'quota user.maxGpusPerSku[a100] exceeded: the user allows 1 a100 GPUs (1 in use)',
    ],
  ] as const)('names the SKU of %s', (quota, sku, limit, used, message) => {
    expect(quotaMessage({ quota, sku, limit, used })).toBe(message);
  });
});

describe('quotaRetryAfterSeconds', () => {
  it('waits for the next month for GPU-hours, half a minute for a concurrent quota', () => {
    const now = new Date('2026-02-28T23:59:00.500Z');
    expect(quotaRetryAfterSeconds('tenant.gpuHoursPerMonth', now)).toBe(60);
    const december = new Date('2026-12-01T00:00:00Z');
    expect(quotaRetryAfterSeconds('tenant.gpuHoursPerMonth', december)).toBe(31 * 86_400);
    for (const quota of [
      'tenant.maxSessions',
      'user.maxSessions',
      'tenant.maxGpus',
      'tenant.maxGpusPerSku',
      'user.maxGpusPerSku',
    ] as const) {
      expect(quotaRetryAfterSeconds(quota, now)).toBe(30);
    }
  });
});

describe('gpuHoursDecision', () => {
  const H = 3600;
  const base: GpuHoursState = {
    usedGpuSeconds: 0,
    budgetHours: 10,
    action: 'refuse',
    warned: false,
    exceeded: false,
    activeGpuSessions: 2,
  };
  // [what, state changes, level, events, stop]
  const cases: [string, Partial<GpuHoursState>, string, string[], boolean][] = [
    ['no budget', { budgetHours: null, usedGpuSeconds: 99 * H }, 'none', [], false],
    ['nothing used', { usedGpuSeconds: 0 }, 'none', [], false],
    ['nothing used of a zero budget', { budgetHours: 0 }, 'none', [], false],
    ['below 90 %', { usedGpuSeconds: 8.99 * H }, 'none', [], false],
    ['at 90 %', { usedGpuSeconds: 9 * H }, 'warn', ['quota.warning'], false],
    ['at 90 %, warned already', { usedGpuSeconds: 9.5 * H, warned: true }, 'warn', [], false],
    [
      'past 100 % at once',
      { usedGpuSeconds: 12 * H },
      'enforce',
      ['quota.warning', 'quota.exceeded'],
      false,
    ],
    [
      'at 100 %, warned',
      { usedGpuSeconds: 10 * H, warned: true },
      'enforce',
      ['quota.exceeded'],
      false,
    ],
    [
      'at 100 %, both recorded, refuse',
      { usedGpuSeconds: 11 * H, warned: true, exceeded: true },
      'enforce',
      [],
      false,
    ],
    [
      'at 100 %, stop',
      { usedGpuSeconds: 10 * H, warned: true, action: 'stop' },
      'enforce',
      ['quota.exceeded'],
      true,
    ],
    // stop again every sweep: a session admitted just before the limit may still run
    [
      'at 100 %, stop, recorded',
      { usedGpuSeconds: 11 * H, warned: true, exceeded: true, action: 'stop' },
      'enforce',
      [],
      true,
    ],
    [
      'at 100 %, stop, nothing running',
      { usedGpuSeconds: 11 * H, action: 'stop', activeGpuSessions: 0 },
      'enforce',
      ['quota.warning', 'quota.exceeded'],
      false,
    ],
    [
      'a zero budget with use',
      { budgetHours: 0, usedGpuSeconds: 1, action: 'stop' },
      'enforce',
      ['quota.warning', 'quota.exceeded'],
      true,
    ],
  ];
  it.each(cases)('%s', (_what, change, level, emit, stop) => {
    expect(gpuHoursDecision({ ...base, ...change })).toEqual({
      level,
      emit,
      stopGpuSessions: stop,
    });
  });
});

describe('secondsUntilToken (the launch rate’s Retry-After)', () => {
  it.each([
    // tokens left, launches a minute → seconds
    [0, 10, 6],
    [0.5, 10, 3],
    [0.99, 10, 1],
    [0, 1, 60],
    [0, 600, 1],
  ])('%f tokens at %i a minute: %i s', (tokens, perMinute, seconds) => {
    expect(secondsUntilToken(tokens, perMinute)).toBe(seconds);
  });
});
