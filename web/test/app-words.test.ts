import { describe, expect, it } from 'vitest';
import { failureSentence, quotaName, quotaSentence, sentence } from '../src/app/words.ts';

// The messages exactly as control/src/domain/quota.ts writes them.
const quota = (name: string, detail: string) => ({
  status: 429,
  code: 'quota_exceeded',
  quota: name,
  message: `quota ${name} exceeded: ${detail}`,
});

describe('quota refusals', () => {
  it('name the limit and what to do, per quota', () => {
    expect(
      failureSentence(
        quota('tenant.maxSessions', 'the tenant allows 5 concurrent sessions (5 active)'),
      ),
    ).toBe(
      'Your organization can run 5 sessions at once, and all are in use. Shut one down, or ask an admin of your organization about the limit.',
    );
    expect(
      failureSentence(
        quota('user.maxSessions', 'the user allows 1 concurrent sessions (1 active)'),
      ),
    ).toBe(
      'You can run 1 session at once. Shut one down to launch another, or ask an admin of your organization to raise your limit.',
    );
    expect(failureSentence(quota('tenant.maxGpus', 'the tenant allows 8 GPUs (7 in use)'))).toBe(
      'Your organization may use 8 GPUs at once and 7 are in use, too few for this app. Try again when a session ends, or ask an admin of your organization about the limit.',
    );
    expect(failureSentence(quota('user.maxGpus', 'the user allows 1 GPUs (1 in use)'))).toBe(
      'You may use 1 GPU at once and 1 is in use, too few for this app. Shut down a GPU session first, or ask an admin of your organization to raise your limit.',
    );
    expect(
      failureSentence(
        quota('tenant.gpuHoursPerMonth', 'the tenant used 500.2 of its 500 GPU-hours this month'),
      ),
    ).toBe(
      'Your organization has used its 500 GPU hours for this month. To launch before the 1st, ask an admin of your organization about the limit.',
    );
  });

  it('name the GPU type of a per-type quota, from the body’s fields or the message', () => {
    const tenantL4 = {
      ...quota('tenant.maxGpusPerSku[l4]', 'the tenant allows 4 l4 GPUs (3 in use)'),
      quota: 'tenant.maxGpusPerSku',
      sku: 'l4',
      limit: 4,
      used: 3,
    };
    const said =
      'Your organization may use 4 l4 GPUs at once and 3 are in use, too few for this app. Try again when a session ends, or ask an admin of your organization about the limit.';
    expect(failureSentence(tenantL4)).toBe(said);
    // the message alone says the same
    const { quota: _q, sku: _s, limit: _l, used: _u, ...bare } = tenantL4;
    expect(quotaName(bare)).toBe('tenant.maxGpusPerSku');
    expect(failureSentence(bare)).toBe(said);
    expect(
      failureSentence({
        ...quota('user.maxGpusPerSku[a100]', 'the user allows 1 a100 GPUs (1 in use)'),
        quota: 'user.maxGpusPerSku',
        sku: 'a100',
        limit: 1,
        used: 1,
      }),
    ).toBe(
      'You may use 1 a100 GPU at once and 1 is in use, too few for this app. Shut down a session that uses them first, or ask an admin of your organization to raise your limit.',
    );
    expect(quotaSentence({ quota: 'user.maxGpusPerSku', message: 'too many' })).toBe(
      'This app needs more GPUs of this type than you may use at once. Shut down a session that uses them first, or ask an admin of your organization to raise your limit.',
    );
  });

  it('tell an admin which limit it was and where it is changed, not to ask an admin', () => {
    const tenantSessions = quota(
      'tenant.maxSessions',
      'the tenant allows 5 concurrent sessions (5 active)',
    );
    const userSessions = quota(
      'user.maxSessions',
      'the user allows 1 concurrent sessions (1 active)',
    );
    const userGpus = quota('user.maxGpus', 'the user allows 1 GPUs (1 in use)');
    const tenantHours = quota(
      'tenant.gpuHoursPerMonth',
      'the tenant used 500.2 of its 500 GPU-hours this month',
    );
    // a tenant's limits are the platform operator's to set; a user's, the tenant admin's
    expect(failureSentence(tenantSessions, 'tenant-admin')).toBe(
      'Your organization can run 5 sessions at once, and all are in use. Shut one down, or ask the platform operator, who sets your organization’s limits, to raise it (Console → Quotas & use shows them).',
    );
    expect(failureSentence(tenantHours, 'tenant-admin')).toBe(
      'Your organization has used its 500 GPU hours for this month. To launch before the 1st, ask the platform operator, who sets your organization’s limits, to raise it (Console → Quotas & use shows them).',
    );
    expect(failureSentence(userSessions, 'tenant-admin')).toBe(
      'You can run 1 session at once. Shut one down to launch another, or raise your limit in Console → Users.',
    );
    expect(failureSentence(userGpus, 'platform-admin')).toBe(
      'You may use 1 GPU at once and 1 is in use, too few for this app. Shut down a GPU session first, or raise your limit in Console → Users.',
    );
    expect(failureSentence(tenantSessions, 'platform-admin')).toBe(
      'Your organization can run 5 sessions at once, and all are in use. Shut one down, or raise the limit in Console → Quotas & use.',
    );
    for (const reader of ['tenant-admin', 'platform-admin'] as const) {
      for (const q of [tenantSessions, userSessions, userGpus, tenantHours]) {
        expect(failureSentence(q, reader)).not.toMatch(/ask an admin/i);
      }
    }
  });

  it('find the quota in the message when error.quota is missing', () => {
    const { quota: _, ...bare } = quota(
      'user.maxSessions',
      'the user allows 2 concurrent sessions (2 active)',
    );
    expect(quotaName(bare)).toBe('user.maxSessions');
    expect(failureSentence(bare)).toBe(
      'You can run 2 sessions at once. Shut one down to launch another, or ask an admin of your organization to raise your limit.',
    );
  });

  it('still read without numbers, and for a quota they do not know', () => {
    expect(quotaSentence({ quota: 'tenant.maxSessions', message: 'too many' })).toMatch(
      /^Your organization has reached its limit of running sessions\./,
    );
    expect(
      quotaSentence({
        quota: 'tenant.storage',
        message: 'quota tenant.storage exceeded: 10 Ti used',
      }),
    ).toBe('A quota stopped this: 10 Ti used.');
    expect(failureSentence({ status: 429, code: 'too_many', message: 'slow down' })).toBe(
      'Slow down.',
    );
    expect(
      failureSentence({
        status: 429,
        code: 'quota_exceeded',
        message: 'quota user.maxGpus exceeded',
      }),
    ).toBe(
      'This app needs more GPUs than you may use at once. Shut down a GPU session first, or ask an admin of your organization to raise your limit.',
    );
  });
});

describe('failureSentence', () => {
  it('says capacity refusals with the wait from Retry-After', () => {
    const full = {
      status: 503,
      code: 'no_capacity',
      message: 'every eligible cluster is full; retry later',
    };
    expect(failureSentence({ ...full, retryAfter: 5 })).toBe(
      'Every GPU that could run this is busy right now. Try again in 5 seconds.',
    );
    expect(failureSentence({ ...full, retryAfter: 1 })).toBe(
      'Every GPU that could run this is busy right now. Try again in 1 second.',
    );
    expect(failureSentence({ ...full, retryAfter: 120 })).toBe(
      'Every GPU that could run this is busy right now. Try again in 2 minutes.',
    );
    expect(failureSentence({ ...full, retryAfter: null })).toBe(
      'Every GPU that could run this is busy right now. Try again shortly.',
    );
  });

  it('says the gateway’s launch rate limit apart from quotas', () => {
    expect(
      failureSentence({
        status: 429,
        code: 'rate_limited',
        message: 'too many launches; try again in 3 s',
        retryAfter: 3,
      }),
    ).toBe('That was a lot of launches in a short time. Try again in 3 seconds.');
  });

  it('explains an unplaceable app and never shows raw codes', () => {
    expect(
      failureSentence({
        status: 422,
        code: 'unplaceable',
        message: 'no cluster can run 2× h100 in eu',
      }),
    ).toMatch(/^None of your organization’s clusters can run this app/);
    expect(
      failureSentence({ status: 403, code: 'forbidden', message: 'your role does not allow this' }),
    ).toBe('Your role does not allow this.');
    expect(
      failureSentence({
        status: 409,
        code: 'conflict',
        message: 'the user still has active sessions; stop them first',
      }),
    ).toBe('The user still has active sessions; stop them first.');
    expect(failureSentence({ status: 404, code: 'not_found', message: 'app not found' })).toBe(
      'App not found. It may have been removed; reload the page.',
    );
    expect(
      failureSentence({
        status: 400,
        code: 'invalid_request',
        message: 'resources.cpu: a Kubernetes quantity such as 2, 500m or 4Gi',
      }),
    ).toBe('Resources.cpu: a Kubernetes quantity such as 2, 500m or 4Gi.');
  });

  it('covers the network and the server failing', () => {
    expect(
      failureSentence({ status: 0, code: 'network', message: 'TypeError: Failed to fetch' }),
    ).toBe('Floe cannot be reached. Check your connection and try again.');
    expect(failureSentence({ status: 500, code: 'internal', message: 'internal error' })).toBe(
      'Something went wrong on the server. Try again in a moment.',
    );
    expect(failureSentence({ status: 502, code: 'http_502', message: 'Bad Gateway' })).toBe(
      'Something went wrong on the server. Try again in a moment.',
    );
    expect(failureSentence({ status: 418, code: 'teapot', message: '' })).toBe(
      'The request failed (HTTP 418).',
    );
  });
});

describe('sentence', () => {
  it('capitalises and ends with a full stop once', () => {
    expect(sentence('app not found')).toBe('App not found.');
    expect(sentence('Done!')).toBe('Done!');
    expect(sentence('  ')).toBe('');
  });
});
