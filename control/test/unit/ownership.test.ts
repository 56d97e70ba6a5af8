import { describe, expect, it } from 'vitest';
import {
  type ClusterView,
  type Driven,
  desiredOwner,
  type LeaseView,
  planDrivers,
  planLeases,
  type ReplicaView,
} from '../../src/domain/ownership.ts';

const A: ReplicaView = { id: 'a', local: true };
const B: ReplicaView = { id: 'b', local: false };
const C: ReplicaView = { id: 'c', local: false };
const k8s = (id: string, drivable = true): ClusterView => ({
  id,
  driver: 'kubernetes',
  drivable,
});
const local: ClusterView = { id: 'local', driver: 'local', drivable: true };
// a cluster of driver local registered through the API: nothing drives it
const spare: ClusterView = { id: 'spare', driver: 'local', drivable: false };
const lease = (clusterId: string, holder: string, live = true, token = 1): LeaseView => ({
  clusterId,
  holder,
  token,
  live,
});

// many cluster ids, so that each replica is the desired owner of some
const many = Array.from({ length: 60 }, (_, i) =>
  k8s(`00000000-0000-0000-0000-${String(i).padStart(12, '0')}`),
);

describe('desiredOwner', () => {
  it('is the same whatever the order of the replicas, and none without candidates', () => {
    for (const c of many) {
      expect(desiredOwner(c, [A, B, C])).toBe(desiredOwner(c, [C, A, B]));
    }
    expect(desiredOwner(k8s('x', false), [A, B])).toBeNull();
    expect(desiredOwner(local, [B, C])).toBeNull();
    expect(desiredOwner(local, [A, B, C])).toBe('a');
    expect(desiredOwner(spare, [A, B, C])).toBeNull();
    expect(desiredOwner(k8s('x'), [])).toBeNull();
  });

  it('spreads clusters over the replicas, and a replica leaving moves only its own', () => {
    const owners = many.map((c) => desiredOwner(c, [A, B, C]));
    for (const r of ['a', 'b', 'c'])
      expect(owners.filter((o) => o === r).length).toBeGreaterThan(5);
    const without = many.map((c) => desiredOwner(c, [A, C]));
    owners.forEach((o, i) => {
      if (o !== 'b') expect(without[i]).toBe(o);
    });
  });
});

describe('planLeases', () => {
  const mineFor = (me: ReplicaView, replicas: ReplicaView[]) =>
    many.find((c) => desiredOwner(c, replicas) === me.id) as ClusterView;
  const ofA = mineFor(A, [A, B]);
  const ofB = mineFor(B, [A, B]);

  const table: {
    name: string;
    me: string;
    replicas: ReplicaView[];
    clusters: ClusterView[];
    leases: LeaseView[];
    dead?: Set<string>;
    want: { acquire: string[]; renew: string[]; release: string[] };
  }[] = [
    {
      name: 'a free cluster it should drive is taken',
      me: 'a',
      replicas: [A, B],
      clusters: [ofA],
      leases: [],
      want: { acquire: [ofA.id], renew: [], release: [] },
    },
    {
      name: 'a free cluster another replica should drive is left to it',
      me: 'a',
      replicas: [A, B],
      clusters: [ofB],
      leases: [],
      want: { acquire: [], renew: [], release: [] },
    },
    {
      name: 'an expired lease of a dead replica is taken by the desired owner among the living',
      me: 'a',
      replicas: [A],
      clusters: [ofB],
      leases: [lease(ofB.id, 'b', false)],
      want: { acquire: [ofB.id], renew: [], release: [] },
    },
    {
      name: 'a live lease of another replica is never taken, even from the desired owner',
      me: 'a',
      replicas: [A, B],
      clusters: [ofA],
      leases: [lease(ofA.id, 'b')],
      want: { acquire: [], renew: [], release: [] },
    },
    {
      name: 'a live lease of a replica known dead (its process is gone) is taken at once',
      me: 'a',
      replicas: [A, B],
      clusters: [ofB],
      leases: [lease(ofB.id, 'b')],
      dead: new Set(['b']),
      want: { acquire: [ofB.id], renew: [], release: [] },
    },
    {
      name: 'its own live lease is renewed',
      me: 'a',
      replicas: [A, B],
      clusters: [ofA],
      leases: [lease(ofA.id, 'a')],
      want: { acquire: [], renew: [ofA.id], release: [] },
    },
    {
      name: 'its own expired lease (a database outage) is taken again, not renewed',
      me: 'a',
      replicas: [A, B],
      clusters: [ofA],
      leases: [lease(ofA.id, 'a', false)],
      want: { acquire: [ofA.id], renew: [], release: [] },
    },
    {
      name: 'a replica joined that should drive it: given back',
      me: 'a',
      replicas: [A, B],
      clusters: [ofB],
      leases: [lease(ofB.id, 'a')],
      want: { acquire: [], renew: [], release: [ofB.id] },
    },
    {
      name: 'credentials removed: given back, nobody takes it',
      me: 'a',
      replicas: [A, B],
      clusters: [k8s(ofA.id, false)],
      leases: [lease(ofA.id, 'a')],
      want: { acquire: [], renew: [], release: [ofA.id] },
    },
    {
      name: 'a deleted cluster: given back',
      me: 'a',
      replicas: [A, B],
      clusters: [],
      leases: [lease(ofA.id, 'a'), lease(ofB.id, 'b')],
      want: { acquire: [], renew: [], release: [ofA.id] },
    },
    {
      name: 'the local cluster goes only to a replica that runs it',
      me: 'b',
      replicas: [A, B],
      clusters: [local],
      leases: [lease('local', 'a', false)],
      want: { acquire: [], renew: [], release: [] },
    },
    {
      name: 'the local cluster is taken by the replica that runs it',
      me: 'a',
      replicas: [A, B],
      clusters: [local],
      leases: [],
      want: { acquire: ['local'], renew: [], release: [] },
    },
  ];
  it.each(table)('$name', ({ me, replicas, clusters, leases, dead, want }) => {
    expect(planLeases({ me, replicas, clusters, leases, dead })).toEqual(want);
  });
});

describe('planDrivers', () => {
  const row = (credentials: string | null, labels: Record<string, string> = {}) => ({
    credentials,
    labels,
  });
  const driven = (token: number, credentials: string | null, labels = {}): Driven => ({
    token,
    credentials,
    labels,
  });
  const table: {
    name: string;
    held: [string, number][];
    driving: [string, Driven][];
    rows: [string, ReturnType<typeof row>][];
    want: { attach: string[]; detach: string[]; reattach: string[]; relabel: string[] };
  }[] = [
    {
      name: 'a lease newly held: attach',
      held: [['x', 1]],
      driving: [],
      rows: [['x', row('k1')]],
      want: { attach: ['x'], detach: [], reattach: [], relabel: [] },
    },
    {
      name: 'held and driven as it is: nothing',
      held: [['x', 1]],
      driving: [['x', driven(1, 'k1', { a: '1' })]],
      rows: [['x', row('k1', { a: '1' })]],
      want: { attach: [], detach: [], reattach: [], relabel: [] },
    },
    {
      name: 'a lease lost: detach',
      held: [],
      driving: [['x', driven(1, 'k1')]],
      rows: [['x', row('k1')]],
      want: { attach: [], detach: ['x'], reattach: [], relabel: [] },
    },
    {
      name: 'the cluster deleted: detach',
      held: [['x', 1]],
      driving: [['x', driven(1, 'k1')]],
      rows: [],
      want: { attach: [], detach: ['x'], reattach: [], relabel: [] },
    },
    {
      name: 'new credentials: a new driver',
      held: [['x', 1]],
      driving: [['x', driven(1, 'k1')]],
      rows: [['x', row('k2')]],
      want: { attach: [], detach: [], reattach: ['x'], relabel: [] },
    },
    {
      name: 'the lease lost and taken again (a new token): a new driver, reconciled',
      held: [['x', 3]],
      driving: [['x', driven(1, 'k1')]],
      rows: [['x', row('k1')]],
      want: { attach: [], detach: [], reattach: ['x'], relabel: [] },
    },
    {
      name: 'only labels changed: relabel',
      held: [['x', 1]],
      driving: [['x', driven(1, 'k1', { a: '1' })]],
      rows: [['x', row('k1', { a: '2' })]],
      want: { attach: [], detach: [], reattach: [], relabel: ['x'] },
    },
  ];
  it.each(table)('$name', ({ held, driving, rows, want }) => {
    expect(
      planDrivers({ held: new Map(held), driving: new Map(driving), rows: new Map(rows) }),
    ).toEqual(want);
  });
});
