// Vitest global setup shared by every package's tests: builds the Go-built tools if they
// are missing, starts the testbed's servers once per run and stops them when the run ends,
// failed or not. Tests read what they need with `inject('testbed')`; Kubernetes clusters
// are started by the test files that need them (startKubernetesClusters).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type Coturn, startCoturn } from './coturn.ts';
import { ensureHelm } from './helm.ts';
import { ensureK6 } from './k6.ts';
import { ensureKubernetesBinaries } from './kubernetes.ts';
import { type OidcProvider, startOidcProvider } from './oidc.ts';
import { type Postgres, startPostgres } from './postgres.ts';

export interface TestbedInfo {
  /** superuser URL of a throwaway PostgreSQL server; create a database per test file */
  postgresUrl: string;
  turn: { url: string; secret: string; realm: string };
  oidc: Pick<OidcProvider, 'issuer' | 'clients' | 'users'>;
  /** a folder for test data, removed at the end of the run */
  tempRoot: string;
  k6: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    testbed: TestbedInfo;
  }
}

export default async function setup(project: TestProject) {
  // Built tools first, once for all test files (a cold machine builds them here: minutes).
  const k6 = ensureK6();
  await ensureKubernetesBinaries({ onProgress: (line) => process.stderr.write(`${line}\n`) });
  // the chart's tests (deploy/test/chart.test.ts) call it too: then it is a cache hit
  await ensureHelm({ onProgress: (line) => process.stderr.write(`${line}\n`) });
  const tempRoot = mkdtempSync(join(tmpdir(), 'floe-tests-'));
  let postgres: Postgres | undefined;
  let turn: Coturn | undefined;
  let oidc: OidcProvider | undefined;
  const teardown = async () => {
    await Promise.allSettled([turn?.stop(), oidc?.stop()]);
    try {
      postgres?.stop();
    } finally {
      rmSync(tempRoot, { recursive: true, force: true });
    }
  };
  try {
    [postgres, turn, oidc] = await Promise.all([
      startPostgres(),
      // every stream test's browsers share it, and each allocation holds a relay port for
      // 10 minutes: sharing, file and device tests open dozens within that window
      startCoturn({ relayPorts: 512 }),
      startOidcProvider(),
    ]);
  } catch (err) {
    await teardown();
    throw err;
  }
  project.provide('testbed', {
    postgresUrl: postgres.url,
    turn: { url: turn.url, secret: turn.secret, realm: turn.realm },
    oidc: { issuer: oidc.issuer, clients: oidc.clients, users: oidc.users },
    tempRoot,
    k6,
  });
  return teardown;
}
