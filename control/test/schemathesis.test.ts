// The control plane against its own contract: schemathesis (property-based, from PyPI) reads
// /openapi.json and sends generated requests, valid and invalid, as a member, a tenant admin
// and the platform admin of a real control plane on the run's PostgreSQL. Any failure of its
// checks (a 5xx, a response or status the document does not declare, invalid data accepted, a
// missing Retry-After, a method that is not 405…) fails this test, with schemathesis' report.
//
// Bounded: FLOE_SCHEMATHESIS_EXAMPLES cases per operation (default 15) and a fixed seed, so a
// run repeats (FLOE_SCHEMATHESIS_SEED explores others). Not checked: positive_data_acceptance
// ("schema-valid data must be accepted"), because some rules are across fields or depend on
// the caller (a member key names its user; `from` before `to`; an issuer's scheme and host)
// and JSON Schema cannot say them: such requests get a 400 that names the rule.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSchemathesis } from '@floe/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const EXAMPLES = process.env.FLOE_SCHEMATHESIS_EXAMPLES ?? '15';
const SEED = process.env.FLOE_SCHEMATHESIS_SEED ?? '20261206';
const RUN_LIMIT_MS = 150_000;

// Every check of schemathesis but positive_data_acceptance (above); a 413 or a 415 rejects
// invalid data too (its default list lacks them); and a tenant it has just created has no
// identity provider yet: the 404 of its identity-provider is right, not a resource lost; and a
// launch names a user and an app in its body: their 404 is not the tenant lost.
const CONFIG = `
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]

[checks.positive_data_acceptance]
enabled = false

[[operations]]
include-path = "/v1/tenants/{tenant}/identity-provider"
checks.ensure_resource_availability.enabled = false

[[operations]]
include-path = "/v1/tenants/{tenant}/sessions"
include-method = "POST"
checks.ensure_resource_availability.enabled = false
`;
// a tenant's principals work in their tenant; the platform admin in the tenants it creates (a
// fixed tenant would outlive its deletion in schemathesis' sequences of calls)
const IN_TENANT = `${CONFIG}
[parameters]
"path.tenant" = "acme"
`;

interface Outcome {
  code: number | null;
  output: string;
}

describe('the OpenAPI contract, tested by schemathesis', () => {
  let t: TestControlPlane;
  let python: string;
  let dir: string;

  beforeAll(async () => {
    python = ensureSchemathesis();
    dir = mkdtempSync(join(inject('testbed').tempRoot, 'schemathesis-'));
    writeFileSync(join(dir, 'platform.toml'), CONFIG);
    writeFileSync(join(dir, 'tenant.toml'), IN_TENANT);
    t = await startTestControlPlane(await freshDatabase('postgres'));
    // no launch runs a process: every one is refused by the quota (a 429 with Retry-After)
    await seedTenant(t, { slug: 'acme', quotas: { maxSessions: 0 } });
    // a key never outranks its user: the tenant-admin key belongs to a tenant admin
    const admin = await t.call('POST', '/v1/tenants/acme/users', {
      body: { email: 'admin@acme.test', role: 'tenant-admin' },
    });
    expect(admin.status).toBe(201);
  }, 180_000);
  afterAll(() => t?.close());

  /** a fresh key of the role (an earlier run may have revoked the last one) */
  async function keyFor(role: 'member' | 'tenant-admin' | 'platform-admin'): Promise<string> {
    const r =
      role === 'platform-admin'
        ? await t.call('POST', '/v1/api-keys', { body: { name: 'schemathesis', role } })
        : await t.call('POST', '/v1/tenants/acme/api-keys', {
            body: {
              name: 'schemathesis',
              role,
              user: role === 'member' ? 'user@acme.test' : 'admin@acme.test',
            },
          });
    expect(r.status).toBe(201);
    return r.body.token;
  }

  function schemathesis(token: string, config: string): Promise<Outcome> {
    const args = [
      ...['-m', 'schemathesis.cli', '--no-color'],
      ...['--config-file', join(dir, config)],
      ...['run', `${t.url}/openapi.json`],
      ...['--header', `Authorization: Bearer ${token}`],
      // one worker: Debian 12's Python 3.11.2 can crash parsing in two threads at once
      // ("AST constructor recursion depth mismatch"), which it did once with two
      ...['--max-examples', EXAMPLES, '--seed', SEED, '--workers', '1'],
      ...['--generation-database', 'none', '--request-timeout', '10'],
    ];
    return new Promise((resolve, reject) => {
      // spawns: python3 (schemathesis, in its virtualenv)
      const child = spawn(python, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  }

  // the member first: the admins' runs revoke keys and change the tenant
  it.each(['member', 'tenant-admin', 'platform-admin'] as const)(
    'finds no failure as a %s',
    async (role) => {
      const started = Date.now();
      const config = role === 'platform-admin' ? 'platform.toml' : 'tenant.toml';
      const run = await schemathesis(await keyFor(role), config);
      const seconds = Math.round((Date.now() - started) / 1000);
      process.stderr.write(`schemathesis as ${role}: ${seconds} s, exit ${run.code}\n`);
      // the whole report when it fails: the failures, with a curl line that repeats each
      expect(run.code, run.output).toBe(0);
      expect(run.output).toMatch(/Test cases:\s+\d+ generated, \d+ passed/);
    },
    RUN_LIMIT_MS + 10_000,
  );
});
