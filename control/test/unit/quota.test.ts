import { describe, expect, it } from 'vitest';
import {
  checkQuota,
  type Limits,
  needsMonthlyGpuUsage,
  type Usage,
} from '../../src/domain/quota.ts';

const unlimited: Limits = {
  tenant: { maxSessions: null, maxGpus: null, gpuHoursPerMonth: null },
  user: { maxSessions: null, maxGpus: null },
};
const idle: Usage = {
  tenantSessions: 0,
  tenantGpus: 0,
  userSessions: 0,
  userGpus: 0,
  tenantGpuSecondsThisMonth: 0,
};

describe('checkQuota', () => {
  it('admits anything when nothing is limited', () => {
    expect(checkQuota(unlimited, { ...idle, tenantSessions: 10_000 }, 8)).toEqual({ ok: true });
  });

  it('names the tenant session quota at the limit, not before', () => {
    const limits = { ...unlimited, tenant: { ...unlimited.tenant, maxSessions: 5 } };
    expect(checkQuota(limits, { ...idle, tenantSessions: 4 }, 0)).toEqual({ ok: true });
    expect(checkQuota(limits, { ...idle, tenantSessions: 5 }, 0)).toMatchObject({
      ok: false,
      quota: 'tenant.maxSessions',
    });
  });

  it('checks the user’s own limits', () => {
    const limits = { ...unlimited, user: { maxSessions: 1, maxGpus: 2 } };
    expect(checkQuota(limits, { ...idle, userSessions: 1 }, 0)).toMatchObject({
      quota: 'user.maxSessions',
    });
    expect(checkQuota(limits, { ...idle, userGpus: 1 }, 2)).toMatchObject({
      quota: 'user.maxGpus',
    });
    expect(checkQuota(limits, { ...idle, userGpus: 1 }, 1)).toEqual({ ok: true });
  });

  it('counts GPUs asked against the tenant’s GPUs, and ignores GPU quotas for CPU apps', () => {
    const limits = {
      ...unlimited,
      tenant: { ...unlimited.tenant, maxGpus: 4, gpuHoursPerMonth: 1 },
    };
    expect(checkQuota(limits, { ...idle, tenantGpus: 3 }, 2)).toMatchObject({
      quota: 'tenant.maxGpus',
    });
    expect(
      checkQuota(limits, { ...idle, tenantGpus: 4, tenantGpuSecondsThisMonth: 1e9 }, 0),
    ).toEqual({
      ok: true,
    });
  });

  it('refuses GPU launches once the month’s GPU-hours are spent', () => {
    const limits = { ...unlimited, tenant: { ...unlimited.tenant, gpuHoursPerMonth: 10 } };
    expect(needsMonthlyGpuUsage(limits, 1)).toBe(true);
    expect(needsMonthlyGpuUsage(limits, 0)).toBe(false);
    expect(checkQuota(limits, { ...idle, tenantGpuSecondsThisMonth: 35_999 }, 1)).toEqual({
      ok: true,
    });
    expect(checkQuota(limits, { ...idle, tenantGpuSecondsThisMonth: 36_000 }, 1)).toMatchObject({
      quota: 'tenant.gpuHoursPerMonth',
    });
  });
});
