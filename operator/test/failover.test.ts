// Operators as separate processes (node operator/src/main.ts) on one real cluster, killed
// with SIGKILL: leader election hands over, and a reconcile cut short anywhere converges.
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kube } from '@floe/kube/kube';
import { at, type Pod, R } from '@floe/kube/resources';
import { freePort, type KubernetesClusters } from '@floe/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS, podName, SESSION_RESOURCE, type Session, tenantNamespace } from '../src/crd.ts';
import { createSession, kubeOf, sessionSpec, startClusters, waitFor } from './testbed.ts';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const LEASE_S = 3;
const RETRY_S = 0.5;

let k8s: KubernetesClusters;
let kube: Kube;
const children: ChildProcess[] = [];

beforeAll(async () => {
  k8s = await startClusters('failover', [
    {
      name: 'op-ha',
      region: 'eu-north',
      gpuNodes: [{ sku: 'a100', count: 2, gpusPerNode: 8 }],
      cpuNodes: 2,
    },
  ]);
  kube = kubeOf(k8s.clusters[0]!);
}, 180_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  kube?.close();
  k8s?.stop();
});

interface Replica {
  id: string;
  child: ChildProcess;
  metrics: string;
}

async function startReplica(id: string): Promise<Replica> {
  const port = await freePort();
  const log = openSync(join(tmpdir(), `floe-operator-failover-${id}.log`), 'w');
  const child = spawn(
    process.execPath,
    [
      main,
      `--kubeconfig=${k8s.clusters[0]!.kubeconfig}`,
      `--id=${id}`,
      `--metrics-addr=127.0.0.1:${port}`,
      `--lease-duration=${LEASE_S}`,
      '--renew-deadline=2',
      `--retry-period=${RETRY_S}`,
      '--log-level=debug',
    ],
    { stdio: ['ignore', log, log] },
  );
  children.push(child);
  const metrics = `http://127.0.0.1:${port}/metrics`;
  await waitFor(`${id} serving metrics`, () =>
    fetch(metrics).then((r) => (r.ok ? true : undefined)),
  );
  return { id, child, metrics };
}

const holder = async () =>
  (
    await kube.request<{ spec: { holderIdentity?: string; leaseTransitions?: number } }>(
      'get',
      at(R.lease, 'floe-system', 'floe-operator'),
    )
  ).spec;

const leaderGauge = async (r: Replica) =>
  Number((await (await fetch(r.metrics)).text()).match(/^floe_operator_leader (\d)/m)?.[1]);

function kill(r: Replica) {
  r.child.kill('SIGKILL'); // no release of the Lease, no clean-up of any kind
  return new Promise((resolve) => r.child.once('exit', resolve));
}

/** Every Session Running, with exactly one pod, owned by it. */
async function allRunningOnce(tenant: string, names: string[]) {
  const ns = tenantNamespace(tenant);
  const sessions = await waitFor(
    `${names.length} sessions Running`,
    async () => {
      const list = await kube.request<{ items: Session[] }>('list', at(SESSION_RESOURCE, ns));
      const running = list.items.filter((s) => s.status?.phase === 'Running');
      return running.length === names.length ? list.items : undefined;
    },
    60_000,
  );
  const pods = await kube.request<{ items: Pod[] }>('list', at(R.pod, ns), {
    query: { labelSelector: `${LABELS.tenant}=${tenant}` },
  });
  expect(pods.items.map((p) => p.metadata.name).sort()).toEqual(names.map(podName).sort());
  for (const s of sessions) {
    const pod = pods.items.find((p) => p.metadata.name === podName(s.metadata.name));
    expect(pod?.metadata.ownerReferences?.[0]?.uid).toBe(s.metadata.uid);
    expect(s.status?.node).toBe(pod?.spec.nodeName);
  }
}

const cpuSession = (tenant: string) => {
  const spec = sessionSpec({ tenantId: tenant, slug: 'desk' });
  spec.app.resources = { cpu: '100m', memory: '128Mi', gpu: null };
  spec.persistence = null;
  spec.tenant.maxGpus = null;
  return spec;
};

describe('leader election', () => {
  it('lets one replica act; killing it hands over within the lease duration, nothing lost or doubled', async () => {
    const a = await startReplica('replica-a');
    await waitFor('replica-a leading', async () =>
      (await holder()).holderIdentity === 'replica-a' ? true : undefined,
    );
    const b = await startReplica('replica-b');
    await waitFor('replica-a leader gauge', async () =>
      (await leaderGauge(a)) === 1 ? true : undefined,
    );
    expect(await leaderGauge(b)).toBe(0);

    const names = Array.from({ length: 12 }, (_, i) => `ha-${i}`);
    const spec = cpuSession('ha');
    for (const name of names.slice(0, 6)) await createSession(kube, name, spec);
    await waitFor('a first pod', async () => {
      const pods = await kube.request<{ items: Pod[] }>('list', at(R.pod, tenantNamespace('ha')));
      return pods.items.length > 0 ? true : undefined;
    });
    const before = (await holder()).leaseTransitions ?? 0;
    await kill(a);
    const killedAt = Date.now();
    // mid-stream: Sessions keep coming while nobody leads
    for (const name of names.slice(6)) await createSession(kube, name, spec);
    await waitFor(
      'replica-b leading',
      async () => ((await holder()).holderIdentity === 'replica-b' ? true : undefined),
      (LEASE_S + 4 * RETRY_S + 2) * 1000,
    );
    console.log(`handover after ${Date.now() - killedAt} ms (lease ${LEASE_S} s)`);
    expect((await holder()).leaseTransitions).toBe(before + 1);
    expect(await leaderGauge(b)).toBe(1);
    await allRunningOnce('ha', names);
    await kill(b);
  }, 90_000);

  it('converges when the operator is killed in the middle of reconciling 20 Sessions', async () => {
    const c = await startReplica('replica-c');
    await waitFor(
      'replica-c leading',
      async () => ((await holder()).holderIdentity === 'replica-c' ? true : undefined),
      (LEASE_S + 3) * 1000,
    );
    const names = Array.from({ length: 20 }, (_, i) => `crash-${i}`);
    const spec = cpuSession('crash');
    const creating = Promise.all(names.map((name) => createSession(kube, name, spec)));
    // as soon as it has started on some of them, not all
    await waitFor('a first pod', async () => {
      const pods = await kube.request<{ items: Pod[] }>(
        'list',
        at(R.pod, tenantNamespace('crash')),
      );
      return pods.items.length > 0 ? true : undefined;
    });
    await kill(c);
    await creating;
    const d = await startReplica('replica-d');
    await allRunningOnce('crash', names);
    await kill(d);
  }, 90_000);
});
