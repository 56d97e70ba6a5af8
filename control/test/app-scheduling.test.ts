// An app's Kubernetes template (tolerations, node affinity, image pull Secrets, /dev/shm size,
// env from Secrets, read-only data volumes, extra egress): stored, shown, changed and checked
// by the API, with a 400 naming the field for each bad value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

let t: TestControlPlane;
beforeAll(async () => {
  t = await startTestControlPlane(await freshDatabase('pglite'));
  await seedTenant(t, { slug: 'acme' });
});
afterAll(async () => t?.close());

const good = {
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'cad', effect: 'NoSchedule' }],
  nodeAffinity: {
    required: [
      {
        matchExpressions: [
          { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-1a'] },
        ],
      },
    ],
    preferred: [{ weight: 20, matchExpressions: [{ key: 'spot', operator: 'DoesNotExist' }] }],
  },
  imagePullSecrets: ['registry-cred'],
  shmSize: '2Gi',
  envFromSecrets: [{ name: 'LM_LICENSE_FILE', secret: 'licences', key: 'flexlm' }],
  volumes: [
    { name: 'models', mountPath: '/data/models', claim: 'shared-models' },
    { name: 'cfg', mountPath: '/etc/app', configMap: 'app-config' },
  ],
  egress: [{ cidr: '10.9.0.0/16', ports: [{ protocol: 'TCP', port: 27000 }] }],
};

const app = (slug: string, scheduling: unknown) => ({
  slug,
  name: slug,
  image: 'registry.example/cad:1',
  scheduling,
});

describe('an app’s Kubernetes template', () => {
  it('is stored and shown as sent, changed by PATCH, and null when not sent', async () => {
    const created = await t.call('POST', '/v1/tenants/acme/apps', { body: app('cad', good) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.scheduling).toEqual(good);
    expect((await t.call('GET', '/v1/tenants/acme/apps/cad')).body.scheduling).toEqual(good);
    const patched = await t.call('PATCH', '/v1/tenants/acme/apps/cad', {
      body: { scheduling: { shmSize: '4Gi' } },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.scheduling).toEqual({ shmSize: '4Gi' });
    const plain = await t.call('POST', '/v1/tenants/acme/apps', { body: app('plain', undefined) });
    expect(plain.body.scheduling).toBeNull();
  });

  it.each([
    [
      'a toleration effect Kubernetes lacks',
      { tolerations: [{ key: 'a', effect: 'Never' }] },
      'scheduling.tolerations.0.effect',
    ],
    [
      'Exists with a value',
      { tolerations: [{ key: 'a', operator: 'Exists', value: 'b' }] },
      'scheduling.tolerations.0',
    ],
    [
      'a taint key with spaces',
      { tolerations: [{ key: 'gpu type' }] },
      'scheduling.tolerations.0.key',
    ],
    [
      'In without values',
      { nodeAffinity: { required: [{ matchExpressions: [{ key: 'z', operator: 'In' }] }] } },
      'scheduling.nodeAffinity.required.0.matchExpressions.0',
    ],
    [
      'a weight above 100',
      {
        nodeAffinity: {
          preferred: [{ weight: 101, matchExpressions: [{ key: 'z', operator: 'Exists' }] }],
        },
      },
      'scheduling.nodeAffinity.preferred.0.weight',
    ],
    [
      'a pull Secret name in capitals',
      { imagePullSecrets: ['Registry'] },
      'scheduling.imagePullSecrets.0',
    ],
    ['a /dev/shm size that is no quantity', { shmSize: 'lots' }, 'scheduling.shmSize'],
    [
      'an env name with a dash',
      { envFromSecrets: [{ name: 'A-B', secret: 's', key: 'k' }] },
      'scheduling.envFromSecrets.0.name',
    ],
    [
      'a volume with two sources',
      { volumes: [{ name: 'v', mountPath: '/v', secret: 's', claim: 'c' }] },
      'scheduling.volumes.0',
    ],
    [
      'a relative mount path',
      { volumes: [{ name: 'v', mountPath: 'data', secret: 's' }] },
      'scheduling.volumes.0.mountPath',
    ],
    [
      'a mount path with ..',
      { volumes: [{ name: 'v', mountPath: '/data/../etc', secret: 's' }] },
      'scheduling.volumes.0.mountPath',
    ],
    [
      'two volumes of one name',
      {
        volumes: [
          { name: 'v', mountPath: '/a', secret: 's' },
          { name: 'v', mountPath: '/b', secret: 't' },
        ],
      },
      'scheduling.volumes',
    ],
    [
      'an egress block that is no CIDR',
      { egress: [{ cidr: '10.0.0.0/33' }] },
      'scheduling.egress.0.cidr',
    ],
    [
      'an egress port out of range',
      { egress: [{ cidr: '10.0.0.0/8', ports: [{ protocol: 'TCP', port: 0 }] }] },
      'scheduling.egress.0.ports.0.port',
    ],
    ['an unknown field', { hostNetwork: true }, 'scheduling'],
  ])('refuses %s with a 400 naming it', async (_, scheduling, path) => {
    const r = await t.call('POST', '/v1/tenants/acme/apps', { body: app('bad', scheduling) });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    expect(r.body.error.details[0].message).toMatch(/\w/);
  });
});
