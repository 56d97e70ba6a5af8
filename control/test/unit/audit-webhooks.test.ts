// The pure decisions behind the audit log and webhooks, as tables.
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { auditDiff, REDACTED, redact } from '../../src/audit/diff.ts';
import { systemAuditAction } from '../../src/events/session.ts';
import { eventTypeMatches, validEventPattern } from '../../src/events/types.ts';
import {
  afterAttempt,
  DEFAULT_RETRY_POLICY,
  endpointAfterAttempt,
  retryDelayMs,
} from '../../src/webhooks/policy.ts';
import { addressRefusal, blockListOf, urlRefusal } from '../../src/webhooks/target.ts';
import { endpointChanges } from '../../src/webhooks/worker.ts';

describe('auditDiff', () => {
  it.each([
    ['a change', { name: 'a' }, { name: 'b' }, { name: { from: 'a', to: 'b' } }],
    ['no change', { name: 'a' }, { name: 'a' }, {}],
    ['created', null, { name: 'a' }, { name: { from: null, to: 'a' } }],
    ['deleted', { name: 'a' }, null, { name: { from: 'a', to: null } }],
    ['updatedAt ignored', { updatedAt: new Date(1) }, { updatedAt: new Date(2) }, {}],
    [
      'a secret changed',
      { clientSecretSealed: 'v1.a' },
      { clientSecretSealed: 'v1.b' },
      { clientSecretSealed: { from: REDACTED, to: REDACTED } },
    ],
    [
      'env values hidden, names kept',
      { env: {} },
      { env: { API_TOKEN: 'x', MODE: 'y' } },
      { env: { from: {}, to: { API_TOKEN: REDACTED, MODE: REDACTED } } },
    ],
    [
      'nested secrets',
      { idp: { clientSecret: null } },
      { idp: { clientSecret: 'hunter2' } },
      { idp: { from: { clientSecret: null }, to: { clientSecret: REDACTED } } },
    ],
  ])('%s', (_, before, after, expected) => {
    expect(auditDiff(before, after)).toEqual(expected);
  });

  it('never lets a token, hash or kubeconfig through', () => {
    const out = JSON.stringify(
      redact({ token: 'floe_x', secretHash: 'ab', kubeconfigSealed: 'k', password: 'p' }),
    );
    expect(out).not.toMatch(/floe_x|"ab"|"k"|"p"/);
  });
});

describe('systemAuditAction', () => {
  it.each([
    ['running', 'stopping', 'session.stop'],
    ['running', 'stopped', 'session.stop'],
    ['starting', 'failed', 'session.fail'],
    ['stopping', 'stopped', null],
    ['placed', 'starting', null],
    ['starting', 'running', null],
    ['running', 'unknown', null],
  ] as const)('%s → %s: %s', (from, to, action) => {
    expect(systemAuditAction(from, to)).toBe(action);
  });
});

describe('event types', () => {
  it.each([
    [['session.*'], 'session.running', true],
    [['session.running'], 'session.running', true],
    [['session.running'], 'session.failed', false],
    [['*'], 'quota.warning', true],
    [['*'], 'audit.app.update', false],
    [['audit.*'], 'audit.app.update', true],
    [['audit.app.update'], 'audit.app.update', true],
    [['quota.*'], 'quotas.warning', false],
  ])('%j matches %s: %s', (patterns, type, expected) => {
    expect(eventTypeMatches(patterns, type)).toBe(expected);
  });

  it.each([
    ['session.*', true],
    ['session.running', true],
    ['quota.exceeded', true],
    ['billing.period.closed', true],
    ['audit.app.update', true],
    ['session.bogus', false],
    ['nonsense', false],
    ['', false],
  ])('%s may be subscribed to: %s', (pattern, ok) => {
    expect(validEventPattern(pattern)).toBe(ok);
  });
});

describe('retries', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, initialDelayMs: 1_000, maxDelayMs: 60_000 };
  it.each([
    [1, 0, 500],
    [1, 0.5, 750],
    [2, 0, 1_000],
    [4, 0.5, 6_000],
    [20, 0, 30_000], // capped
    [20, 0.5, 45_000],
  ])('attempt %i, random %d: %i ms', (attempts, random, ms) => {
    expect(retryDelayMs(attempts, policy, random)).toBe(ms);
  });

  const created = new Date('2026-01-01T00:00:00Z');
  const at = (h: number) => new Date(created.getTime() + h * 3_600_000);
  const failure = { ok: false, status: 500, error: 'HTTP 500' };
  it.each([
    ['success', { ok: true, status: 200, error: null }, at(0), 'succeeded'],
    ['a failure early', failure, at(1), 'pending'],
    ['a failure after 24 h', failure, at(24), 'failed'],
  ] as const)('%s', (_, result, now, state) => {
    const d = afterAttempt({ attempts: 3, createdAt: created }, result, now, policy, 0.5);
    expect(d.state).toBe(state);
  });

  it('disables an endpoint only after sustained failure', () => {
    const p = { ...policy, disableAfterFailures: 3, disableAfterMs: 3_600_000 };
    const health = { consecutiveFailures: 5, failingSince: at(0) };
    expect(endpointAfterAttempt(health, failure, at(0.5), p).disableReason).toBeNull();
    expect(endpointAfterAttempt(health, failure, at(2), p).disableReason).toMatch(
      /6 failed attempts in a row since 2026-01-01T00:00:00.000Z; last: HTTP 500/,
    );
    expect(
      endpointAfterAttempt({ consecutiveFailures: 1, failingSince: at(0) }, failure, at(2), p)
        .disableReason,
    ).toBeNull();
    expect(endpointAfterAttempt(health, { ok: true, status: 204, error: null }, at(2), p)).toEqual({
      consecutiveFailures: 0,
      failingSince: null,
      disableReason: null,
    });
  });
});

describe('webhook targets', () => {
  const none = new BlockList();
  const strict = { allowPrivate: false, deniedCidrs: [] };
  const lax = { allowPrivate: true, deniedCidrs: ['10.96.0.0/12'] };
  it.each([
    ['127.0.0.1', strict, none, true],
    ['10.1.2.3', strict, none, true],
    ['192.168.1.1', strict, none, true],
    ['169.254.169.254', strict, none, true], // cloud metadata
    ['::1', strict, none, true],
    ['::ffff:127.0.0.1', strict, none, true],
    ['fd00::1', strict, none, true],
    ['93.184.216.34', strict, none, false],
    ['127.0.0.1', lax, blockListOf(lax.deniedCidrs), false],
    ['10.96.0.10', lax, blockListOf(lax.deniedCidrs), true], // the cluster's service range
  ])('%s refused: %s', (ip, policy, denied, refused) => {
    expect(addressRefusal(ip, policy, denied) !== null).toBe(refused);
  });

  it.each([
    ['https://hooks.example.com/x', strict, null],
    ['http://hooks.example.com/x', strict, 'webhook URLs must be https'],
    ['http://127.0.0.1:8080/x', lax, null],
    ['https://u:p@hooks.example.com/', strict, 'webhook URLs may not carry credentials'],
  ])('%s', (url, policy, refusal) => {
    expect(urlRefusal(url, policy)).toBe(refusal);
  });
});

describe('endpointChanges', () => {
  const at = new Date('2026-01-01T00:00:00Z');
  const outcome = (endpoint: string, ok: boolean, disableReason: string | null = null) => ({
    row: { endpoint_id: endpoint } as never,
    result: { ok, status: ok ? 204 : 500, error: ok ? null : 'HTTP 500' },
    at,
    disableReason,
  });
  it.each([
    [
      'failures add up',
      [outcome('b', false), outcome('b', false)],
      [{ id: 'b', reset: false, failures: 2, firstFailure: at.toISOString(), disableReason: null }],
    ],
    [
      'a success resets, later failures count',
      [outcome('a', false), outcome('a', true), outcome('a', false)],
      [{ id: 'a', reset: true, failures: 1, firstFailure: at.toISOString(), disableReason: null }],
    ],
    [
      'a success last clears the disabling',
      [outcome('a', false, 'why'), outcome('a', true)],
      [{ id: 'a', reset: true, failures: 0, firstFailure: null, disableReason: null }],
    ],
    [
      'endpoints in id order (no deadlock between replicas)',
      [outcome('b', true), outcome('a', true)],
      [
        { id: 'a', reset: true, failures: 0, firstFailure: null, disableReason: null },
        { id: 'b', reset: true, failures: 0, firstFailure: null, disableReason: null },
      ],
    ],
  ])('%s', (_, batch, expected) => {
    expect(endpointChanges(batch)).toEqual(expected);
  });
});
