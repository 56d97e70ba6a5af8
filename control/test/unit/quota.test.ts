import { describe, expect, it } from 'vitest';
import { quotaMessage } from '../../src/domain/quota.ts';

describe('quotaMessage', () => {
  it('names the quota, its limit and what is held', () => {
    expect(quotaMessage('tenant.maxSessions', 5, 5)).toBe(
      'quota tenant.maxSessions exceeded: the tenant allows 5 concurrent sessions (5 active)',
    );
    expect(quotaMessage('tenant.gpuHoursPerMonth', 10.04, 10)).toMatch(/10\.0 of its 10 GPU-hours/);
  });
});
