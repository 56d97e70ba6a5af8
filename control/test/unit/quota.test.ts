import { describe, expect, it } from 'vitest';
import { quotaMessage, quotaRetryAfterSeconds } from '../../src/domain/quota.ts';

describe('quotaMessage', () => {
  it('names the quota, its limit and what is held', () => {
    expect(quotaMessage('tenant.maxSessions', 5, 5)).toBe(
      'quota tenant.maxSessions exceeded: the tenant allows 5 concurrent sessions (5 active)',
    );
    expect(quotaMessage('tenant.gpuHoursPerMonth', 10.04, 10)).toMatch(/10\.0 of its 10 GPU-hours/);
  });
});

describe('quotaRetryAfterSeconds', () => {
  it('waits for the next month for GPU-hours, half a minute for a concurrent quota', () => {
    const now = new Date('2026-02-28T23:59:00.500Z');
    expect(quotaRetryAfterSeconds('tenant.gpuHoursPerMonth', now)).toBe(60);
    const december = new Date('2026-12-01T00:00:00Z');
    expect(quotaRetryAfterSeconds('tenant.gpuHoursPerMonth', december)).toBe(31 * 86_400);
    for (const quota of ['tenant.maxSessions', 'user.maxSessions', 'tenant.maxGpus'] as const) {
      expect(quotaRetryAfterSeconds(quota, now)).toBe(30);
    }
  });
});
