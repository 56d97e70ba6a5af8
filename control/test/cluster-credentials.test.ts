// Registering a Kubernetes cluster never makes the control plane read its own files: a
// kubeconfig naming a token file, a client certificate or key file, or a credential plugin
// is refused with a 400 naming the field, and nothing reaches the kubeconfig's server.
// The "API server" is a plain HTTP listener that records what it is sent (nothing real is
// needed: the request must never be made).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freshDatabase, startTestControlPlane, type TestControlPlane } from './harness.ts';

describe('cluster registration with kubeconfig file references', () => {
  let t: TestControlPlane;
  let listener: Server;
  let server: string;
  const seen: IncomingHttpHeaders[] = [];
  let secretFile: string;
  const SECRET = 'contents-of-a-control-plane-file';

  beforeAll(async () => {
    t = await startTestControlPlane(await freshDatabase('pglite'));
    listener = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(401).end();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    server = `http://127.0.0.1:${(listener.address() as { port: number }).port}`;
    secretFile = join(mkdtempSync(join(inject('testbed').tempRoot, 'cp-secret-')), 'secret');
    writeFileSync(secretFile, SECRET);
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((r) => listener?.close(r));
  });

  const kubeconfig = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    });

  it.each([
    ['token-file', { 'token-file': 'FILE' }, {}, 'users[0].user.token-file'],
    [
      'client-certificate',
      { 'client-certificate': 'FILE', 'client-key-data': 'eA==' },
      {},
      'users[0].user.client-certificate',
    ],
    [
      'client-key',
      { 'client-certificate-data': 'eA==', 'client-key': 'FILE' },
      {},
      'users[0].user.client-key',
    ],
    [
      'certificate-authority',
      { token: 't' },
      { 'certificate-authority': 'FILE' },
      'clusters[0].cluster.certificate-authority',
    ],
    [
      'exec',
      { exec: { command: 'cat', args: ['FILE'], apiVersion: 'client.authentication.k8s.io/v1' } },
      {},
      'users[0].user.exec',
    ],
    [
      'auth-provider',
      { 'auth-provider': { name: 'oidc', config: { 'id-token': 't' } } },
      {},
      'users[0].user.auth-provider',
    ],
  ])(
    'refuses %s with a 400 naming the field, and contacts nothing',
    async (_, user, cluster, field) => {
      const withFile = (o: Record<string, unknown>) =>
        JSON.parse(JSON.stringify(o).replaceAll('"FILE"', JSON.stringify(secretFile)));
      const body = {
        name: `c-${field.replace(/[^a-z]/g, '')}`,
        region: 'eu-west',
        driver: 'kubernetes',
        kubeconfig: kubeconfig(withFile(user), withFile(cluster)),
      };
      const r = await t.call('POST', '/v1/clusters', { body });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toContain(`kubeconfig: ${field} `);
      expect(JSON.stringify(r.body)).not.toContain(SECRET);
      // nor on a PATCH of a cluster registered with inline credentials
      const ok = await t.call('POST', '/v1/clusters', {
        body: { ...body, name: `${body.name}-ok`, kubeconfig: kubeconfig({ token: 'inline' }) },
      });
      expect(ok.status).toBe(201);
      const patch = await t.call('PATCH', `/v1/clusters/${body.name}-ok`, {
        body: { kubeconfig: body.kubeconfig },
      });
      expect(patch.status).toBe(400);
      expect(patch.body.error.message).toContain(`kubeconfig: ${field} `);
      await new Promise((r) => setTimeout(r, 300));
      for (const headers of seen) expect(JSON.stringify(headers)).not.toContain(SECRET);
    },
  );
});
