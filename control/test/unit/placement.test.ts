import { describe, expect, it } from 'vitest';
import { type ClusterView, place } from '../../src/domain/placement.ts';

const cluster = (over: Partial<ClusterView>): ClusterView => ({
  id: over.name ?? 'c',
  name: 'c',
  region: 'eu-west',
  reachable: true,
  gpus: [],
  maxSessions: null,
  activeSessions: 0,
  usedGpus: {},
  ...over,
});

const cpu = { allowedRegions: [], gpuSku: null, gpuCount: 0 };

describe('place', () => {
  it('keeps only clusters in the allowed regions', () => {
    const clusters = [
      cluster({ name: 'eu', region: 'eu-west' }),
      cluster({ name: 'us', region: 'us-east' }),
    ];
    expect(place(clusters, { ...cpu, allowedRegions: ['us-east'] })).toEqual({
      ok: true,
      clusterId: 'us',
    });
    const none = place(clusters, { ...cpu, allowedRegions: ['ap-south'] });
    expect(none).toMatchObject({ ok: false, reason: 'unplaceable' });
  });

  it('needs the GPU SKU and enough free GPUs of it', () => {
    const clusters = [
      cluster({ name: 'l4', gpus: [{ sku: 'l4', count: 8 }] }),
      cluster({ name: 'a100', gpus: [{ sku: 'a100', count: 4 }], usedGpus: { a100: 3 } }),
    ];
    const a100 = { allowedRegions: [], gpuSku: 'a100', gpuCount: 1 };
    expect(place(clusters, a100)).toEqual({ ok: true, clusterId: 'a100' });
    expect(place(clusters, { ...a100, gpuCount: 2 })).toMatchObject({
      ok: false,
      reason: 'no_capacity',
    });
    expect(place(clusters, { ...a100, gpuSku: 'h100' })).toMatchObject({
      ok: false,
      reason: 'unplaceable',
    });
    expect(place(clusters, { ...a100, gpuCount: 5 })).toMatchObject({
      ok: false,
      reason: 'unplaceable',
    });
  });

  it('refuses full clusters and reports no capacity', () => {
    const full = [cluster({ name: 'a', maxSessions: 2, activeSessions: 2 })];
    expect(place(full, cpu)).toMatchObject({ ok: false, reason: 'no_capacity' });
  });

  it('prefers the user’s region, then the least loaded, then the name', () => {
    const clusters = [
      cluster({ name: 'b', region: 'eu-west', maxSessions: 10, activeSessions: 1 }),
      cluster({ name: 'a', region: 'eu-west', maxSessions: 10, activeSessions: 5 }),
      cluster({ name: 'c', region: 'us-east', maxSessions: 10, activeSessions: 0 }),
    ];
    expect(place(clusters, cpu)).toEqual({ ok: true, clusterId: 'c' });
    expect(place(clusters, { ...cpu, preferredRegion: 'eu-west' })).toEqual({
      ok: true,
      clusterId: 'b',
    });
    const tied = [cluster({ name: 'y' }), cluster({ name: 'x' })];
    expect(place(tied, cpu)).toEqual({ ok: true, clusterId: 'x' });
    expect(place([...tied].reverse(), cpu)).toEqual({ ok: true, clusterId: 'x' });
  });

  it('weighs GPU load by the requested SKU', () => {
    const clusters = [
      cluster({ name: 'busy', gpus: [{ sku: 'l4', count: 8 }], usedGpus: { l4: 6 } }),
      cluster({ name: 'idle', gpus: [{ sku: 'l4', count: 8 }], usedGpus: { l4: 1 } }),
    ];
    expect(place(clusters, { allowedRegions: [], gpuSku: 'l4', gpuCount: 1 })).toEqual({
      ok: true,
      clusterId: 'idle',
    });
  });

  it('skips unreachable clusters, and says so when nothing else is eligible', () => {
    const a100 = { allowedRegions: [], gpuSku: 'a100', gpuCount: 2 };
    const clusters = [
      cluster({
        name: 'near',
        region: 'eu-west',
        reachable: false,
        gpus: [{ sku: 'a100', count: 8 }],
      }),
      cluster({ name: 'far', region: 'us-east', gpus: [{ sku: 'a100', count: 8 }] }),
    ];
    expect(place(clusters, { ...a100, preferredRegion: 'eu-west' })).toEqual({
      ok: true,
      clusterId: 'far',
    });
    const alone = place([clusters[0]!], a100);
    expect(alone).toEqual({
      ok: false,
      reason: 'no_capacity',
      message: 'the eligible cluster near is unreachable; retry later',
    });
    const full = place([clusters[0]!, cluster({ ...clusters[1], usedGpus: { a100: 7 } })], a100);
    expect(full).toMatchObject({ reason: 'no_capacity' });
    expect(full.ok || full.message).toMatch(/full \(and near unreachable\)/);
  });

  it('counts GPUs held outside Floe as used', () => {
    // 8 allocatable, 5 held by others' pods, 2 by Floe sessions: 1 free
    const c = cluster({ name: 'k', gpus: [{ sku: 'a100', count: 8 }], usedGpus: { a100: 7 } });
    const req = { allowedRegions: [], gpuSku: 'a100', gpuCount: 1 };
    expect(place([c], req)).toEqual({ ok: true, clusterId: 'k' });
    expect(place([c], { ...req, gpuCount: 2 })).toMatchObject({ reason: 'no_capacity' });
  });
});
