// Several control-plane replicas on one PostgreSQL database, as behind a load balancer: a
// configuration change through one is seen by the others at once (a revoked key refused
// within a second, not after the lookups' TTL); a session launched and stopped through a
// replica that does not drive its cluster is launched and stopped by the one that does, and
// its launch progress streams from either; each Kubernetes cluster is driven by exactly one
// replica, follows registration, rotation and deletion through any replica, moves when a
// replica joins, and is taken over when its driver's replica dies.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { desiredOwner } from '../src/domain/ownership.ts';
import {
  ADMIN_TOKEN,
  eventually,
  freshDatabase,
  openEventStream,
  processesOf,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

describe('control-plane replicas on one PostgreSQL', () => {
  let env: Record<string, string>;
  // a: runs the local cluster; b, c: do not
  let a: TestControlPlane;
  let b: TestControlPlane;
  let c: TestControlPlane | null = null;
  let apiServer: Server;
  let server: string;
  const replicas = () => [a, b, ...(c ? [c] : [])];
  const dataDir = () => mkdtempSync(join(inject('testbed').tempRoot, 'cp-replica-'));

  beforeAll(async () => {
    env = {
      ...(await freshDatabase('postgres')),
      FLOE_SECRET_KEY: randomBytes(32).toString('base64'),
    };
    a = await startTestControlPlane(env);
    b = await startTestControlPlane({
      ...env,
      FLOE_DATA_DIR: dataDir(),
      FLOE_LOCAL_CLUSTER: 'false',
    });
    await seedTenant(a, { slug: 'lab' });
    // an "API server" that refuses everything: the drivers attach and keep trying
    apiServer = createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((r) => apiServer.listen(0, '127.0.0.1', r));
    server = `http://127.0.0.1:${(apiServer.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const r of [c, b, a]) await r?.close();
    await new Promise((r) => apiServer?.close(r));
  });

  it('refuses a key revoked through another replica within a second', async () => {
    const key = await a.call('POST', '/v1/tenants/lab/api-keys', {
      body: { name: 'ops', role: 'tenant-admin' },
    });
    expect(key.status).toBe(201);
    const asKey = { token: key.body.token as string };
    // b has the key in its lookups
    expect((await b.call('GET', '/v1/tenants/lab/apps', asKey)).status).toBe(200);
    expect((await b.call('GET', '/v1/tenants/lab/apps', asKey)).status).toBe(200);
    expect((await a.call('DELETE', `/v1/tenants/lab/api-keys/${key.body.id}`)).status).toBe(204);
    await eventually(
      async () => (await b.call('GET', '/v1/tenants/lab/apps', asKey)).status === 401,
      1_000,
    );
  });

  it('forgets a tenant deleted through another replica at once', async () => {
    await a.call('POST', '/v1/tenants', { body: { slug: 'brief', name: 'Brief' } });
    expect((await a.call('GET', '/v1/tenants/brief/apps')).status).toBe(200);
    expect((await b.call('DELETE', '/v1/tenants/brief')).status).toBe(204);
    await eventually(
      async () => (await a.call('GET', '/v1/tenants/brief/apps')).status === 404,
      1_000,
    );
  });

  it('launches and stops through a replica that does not drive the cluster, with progress from either', async () => {
    const launched = await b.call('POST', '/v1/tenants/lab/sessions', {
      body: { app: 'sleeper', user: 'user@lab.test' },
    });
    expect(launched.status).toBe(201);
    const id = launched.body.id as string;
    expect(launched.body.clusterId).toBe(a.cp.localClusterId);
    const progress = `/v1/tenants/lab/sessions/${id}/progress`;
    const onB = await openEventStream(b.url + progress, ADMIN_TOKEN);
    const states: string[] = [];
    while (states.at(-1) !== 'running') {
      const e = await onB.next();
      expect(e?.event).toBe('session');
      states.push(JSON.parse(e!.data).state);
    }
    expect(states.at(0)).toMatch(/^(placed|starting|running)$/);
    expect(processesOf(id).length).toBeGreaterThan(0);

    // a late subscriber, on the other replica, is given the current state first
    const onA = await openEventStream(a.url + progress, ADMIN_TOKEN);
    expect(JSON.parse((await onA.next())!.data).state).toBe('running');

    const stopped = await b.call('DELETE', `/v1/tenants/lab/sessions/${id}`);
    expect(stopped.status).toBe(202);
    for (const stream of [onB, onA]) {
      let e = await stream.next();
      while (e?.event === 'session') e = await stream.next();
      expect(e?.event).toBe('end');
      expect(JSON.parse(e!.data)).toEqual({ id, state: 'stopped' });
      stream.close();
    }
    await eventually(async () => processesOf(id).length === 0);
  });

  describe('Kubernetes clusters', () => {
    const ids: string[] = [];
    // whether two replicas ever drove one cluster at once, sampled throughout
    const overlaps: string[] = [];
    let sampler: NodeJS.Timeout;
    const drivers = (id: string) =>
      replicas().filter((r) => r.cp.supervisor.attached().includes(id));
    const kubeconfig = (token: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server } }],
        users: [{ name: 'u', user: { token } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      });
    /** each cluster driven by exactly the replica rendezvous hashing names among `live` */
    const drivenAsDesired = (live: TestControlPlane[]) =>
      ids.every((id) => {
        const want = desiredOwner(
          { id, driver: 'kubernetes', drivable: true },
          live.map((r) => ({ id: r.cp.ownership.id, local: false })),
        );
        const now = drivers(id);
        return now.length === 1 && now[0]?.cp.ownership.id === want;
      });

    beforeAll(() => {
      sampler = setInterval(() => {
        for (const id of ids) {
          if (drivers(id).length > 1) overlaps.push(id);
        }
      }, 20);
    });
    afterAll(() => clearInterval(sampler));

    it('drives each registered cluster on exactly one replica, whichever took the registration', async () => {
      for (let i = 0; i < 4; i++) {
        const through = i % 2 ? a : b;
        const r = await through.call('POST', '/v1/clusters', {
          body: {
            name: `k${i}`,
            region: 'eu-west',
            driver: 'kubernetes',
            kubeconfig: kubeconfig(`t${i}`),
          },
        });
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
      await eventually(async () => drivenAsDesired([a, b]));
      // the one that does not drive a cluster still shows its status, as its driver sees it
      const [first] = ids;
      const other = [a, b].find((r) => drivers(first!)[0] !== r) as TestControlPlane;
      const owner = drivers(first!)[0] as TestControlPlane;
      await eventually(async () => {
        const [there, here] = await Promise.all(
          [owner, other].map((r) => r.call('GET', `/v1/clusters/${first}`)),
        );
        return there?.body.status !== 'detached' && here?.body.status === there?.body.status;
      });
    });

    it('follows a new kubeconfig, and a deletion, made through a replica that does not drive it', async () => {
      const id = ids[0] as string;
      const owner = drivers(id)[0] as TestControlPlane;
      const other = owner === a ? b : a;
      const before = owner.cp.supervisor.driverFor(id);
      const patched = await other.call('PATCH', `/v1/clusters/${id}`, {
        body: { kubeconfig: kubeconfig('rotated') },
      });
      expect(patched.status).toBe(200);
      await eventually(async () => {
        const now = owner.cp.supervisor.driverFor(id);
        return now !== undefined && now !== before;
      });
      const last = ids.pop() as string;
      expect((await other.call('DELETE', `/v1/clusters/${last}`)).status).toBe(204);
      await eventually(async () => drivers(last).length === 0);
    });

    it('moves clusters to a replica that joins, and takes over those of a replica that dies', async () => {
      c = await startTestControlPlane({
        ...env,
        FLOE_DATA_DIR: dataDir(),
        FLOE_LOCAL_CLUSTER: 'false',
      });
      await eventually(async () => drivenAsDesired([a, b, c as TestControlPlane]));

      // a replica driving clusters dies: it renews nothing more and drives nothing (as a
      // SIGKILLed process would); its leases expire, the others take its clusters over
      const dying = replicas().find((r) => ids.some((id) => drivers(id)[0] === r));
      if (!dying) throw new Error('no replica drives a cluster');
      const orphaned = ids.filter((id) => drivers(id)[0] === dying);
      await dying.cp.ownership.stop();
      for (const id of dying.cp.supervisor.attached()) await dying.cp.supervisor.detach(id);
      const living = replicas().filter((r) => r !== dying);
      await eventually(async () => drivenAsDesired(living), 10_000);
      for (const id of orphaned) expect(living).toContain(drivers(id)[0]);
      expect(overlaps).toEqual([]);
    });
  });
});

describe('the local cluster on two replicas of one host', () => {
  let first: TestControlPlane;
  let second: TestControlPlane;

  beforeAll(async () => {
    const env = {
      ...(await freshDatabase('postgres')),
      FLOE_SECRET_KEY: randomBytes(32).toString('base64'),
    };
    first = await startTestControlPlane(env);
    second = await startTestControlPlane({
      ...env,
      FLOE_DATA_DIR: mkdtempSync(join(inject('testbed').tempRoot, 'cp-replica-')),
    });
    await seedTenant(first, { slug: 'lab' });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('is driven by one; when it dies the other adopts its running sessions, and stops them', async () => {
    const localId = first.cp.localClusterId as string;
    const drivers = () =>
      [first, second].filter((r) => r.cp.supervisor.attached().includes(localId));
    expect(drivers()).toHaveLength(1);
    const owner = drivers()[0] as TestControlPlane;
    const heir = owner === first ? second : first;
    const launched = await heir.call('POST', '/v1/tenants/lab/sessions', {
      body: { app: 'sleeper', user: 'user@lab.test' },
    });
    expect(launched.status).toBe(201);
    const id = launched.body.id as string;
    await eventually(
      async () =>
        (await heir.call('GET', `/v1/tenants/lab/sessions/${id}`)).body.state === 'running',
    );
    const pids = processesOf(id);
    expect(pids.length).toBeGreaterThan(0);

    // the owner dies without stopping its sessions (its processes live on, as after SIGKILL)
    await owner.cp.ownership.stop();
    await owner.cp.supervisor.detach(localId);
    await eventually(async () => heir.cp.supervisor.attached().includes(localId), 10_000);
    // reconciled: adopted, still running, the same processes
    const after = await heir.call('GET', `/v1/tenants/lab/sessions/${id}`);
    expect(after.body.state).toBe('running');
    expect(processesOf(id)).toEqual(pids);

    expect((await heir.call('DELETE', `/v1/tenants/lab/sessions/${id}`)).status).toBe(202);
    await eventually(async () => processesOf(id).length === 0);
    await eventually(
      async () =>
        (await heir.call('GET', `/v1/tenants/lab/sessions/${id}`)).body.state === 'stopped',
    );
  });
});
