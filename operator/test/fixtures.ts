// Sessions for tests, without any testbed (unit tests import these alone).
import {
  API_VERSION,
  KIND,
  LABELS,
  MANAGED_BY_CONTROL,
  type Session,
  type SessionSpec,
  tenantNamespace,
} from '../src/crd.ts';

export function sessionSpec(
  over: Partial<SessionSpec> & { tenantId?: string; userId?: string; slug?: string } = {},
): SessionSpec {
  const { tenantId = 't1', userId = 'u1', slug = 'blender', ...rest } = over;
  return {
    tenant: { id: tenantId, name: `Tenant ${tenantId}`, maxGpus: 8 },
    user: { id: userId, name: `user-${userId}` },
    app: {
      slug,
      image: 'registry.invalid/floe/blender:4',
      command: ['blender'],
      env: { FOO: 'bar' },
      resources: { cpu: '2', memory: '4Gi', gpu: { count: 1, sku: 'a100' } },
    },
    persistence: { size: '1Gi' },
    ...rest,
  };
}

export function sessionObject(name: string, spec: SessionSpec): Session {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name,
      namespace: tenantNamespace(spec.tenant.id),
      labels: { [LABELS.managedBy]: MANAGED_BY_CONTROL },
    },
    spec,
  };
}
