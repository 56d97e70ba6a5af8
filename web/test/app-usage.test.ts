import { describe, expect, it } from 'vitest';
import type { UsageRow } from '../src/app/types.ts';
import { aggregateUsage, inUse, periodRange } from '../src/app/usage.ts';

const row = (over: Partial<UsageRow>): UsageRow => ({
  userId: 'u1',
  email: 'ada@x',
  appId: 'a1',
  app: 'blender',
  appName: 'Blender',
  gpuSku: null,
  sessions: 1,
  sessionSeconds: 0,
  gpuSeconds: 0,
  ...over,
});

const rows = [
  row({
    userId: 'u1',
    email: 'ada@x',
    appId: 'a1',
    app: 'blender',
    gpuSku: 'l4',
    sessions: 2,
    sessionSeconds: 7200,
    gpuSeconds: 7200,
  }),
  row({
    userId: 'u1',
    email: 'ada@x',
    appId: 'a1',
    app: 'blender',
    gpuSku: 'a100',
    sessions: 1,
    sessionSeconds: 3600,
    gpuSeconds: 7200,
  }),
  row({
    userId: 'u2',
    email: 'bob@x',
    appId: 'a2',
    app: 'vscode',
    appName: 'Visual Studio Code',
    sessions: 5,
    sessionSeconds: 36_000,
  }),
  row({
    userId: 'u2',
    email: 'bob@x',
    appId: 'a1',
    app: 'blender',
    gpuSku: 'l4',
    sessions: 1,
    sessionSeconds: 600,
    gpuSeconds: 600,
  }),
];

describe('aggregateUsage', () => {
  it('folds per user, heaviest GPU use first', () => {
    expect(aggregateUsage(rows, 'user')).toEqual([
      {
        key: 'u1',
        label: 'ada@x',
        detail: null,
        sessions: 3,
        sessionSeconds: 10_800,
        gpuSeconds: 14_400,
        gpuSkus: ['a100', 'l4'],
      },
      {
        key: 'u2',
        label: 'bob@x',
        detail: null,
        sessions: 6,
        sessionSeconds: 36_600,
        gpuSeconds: 600,
        gpuSkus: ['l4'],
      },
    ]);
  });

  it('folds per app by display name, the slug beside; ties go to session time, then name', () => {
    expect(
      aggregateUsage(rows, 'app').map((l) => [l.label, l.detail, l.sessions, l.gpuSeconds]),
    ).toEqual([
      ['Blender', 'blender', 4, 15_000],
      ['Visual Studio Code', 'vscode', 5, 0],
    ]);
    const tie = aggregateUsage(
      [
        row({ appId: 'b', app: 'beta', appName: 'Beta', sessionSeconds: 5 }),
        row({ appId: 'a', app: 'alpha', appName: 'Alpha', sessionSeconds: 5 }),
        row({ appId: 'c', app: '', appName: '', sessionSeconds: 9 }),
      ],
      'app',
    );
    expect(tie.map((l) => [l.label, l.detail])).toEqual([
      ['(removed)', null],
      ['Alpha', 'alpha'],
      ['Beta', 'beta'],
    ]);
  });

  it('is empty for no rows', () => {
    expect(aggregateUsage([], 'user')).toEqual([]);
  });
});

describe('periodRange', () => {
  const now = new Date('2025-03-10T12:34:56.000Z');
  it('gives UTC month and rolling periods', () => {
    expect(periodRange('this-month', now)).toEqual({
      from: '2025-03-01T00:00:00.000Z',
      to: '2025-03-10T12:34:56.000Z',
    });
    expect(periodRange('last-month', now)).toEqual({
      from: '2025-02-01T00:00:00.000Z',
      to: '2025-03-01T00:00:00.000Z',
    });
    expect(periodRange('last-7-days', now).from).toBe('2025-03-03T12:34:56.000Z');
    expect(periodRange('last-30-days', now).from).toBe('2025-02-08T12:34:56.000Z');
  });

  it('crosses the year in January', () => {
    expect(periodRange('last-month', new Date('2025-01-15T00:00:00Z'))).toEqual({
      from: '2024-12-01T00:00:00.000Z',
      to: '2025-01-01T00:00:00.000Z',
    });
  });
});

describe('inUse', () => {
  it('counts sessions and their GPUs', () => {
    expect(
      inUse([
        { gpus: { sku: 'l4', count: 1 } },
        { gpus: null },
        { gpus: { sku: 'a100', count: 2 } },
      ]),
    ).toEqual({ sessions: 3, gpus: 3 });
    expect(inUse([])).toEqual({ sessions: 0, gpus: 0 });
  });
});
