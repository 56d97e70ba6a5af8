// Vitest global setup: one throwaway PostgreSQL server for the run (each test file creates
// databases of its own in it) and one temp folder for the control planes' data; both go
// when the run ends, whatever its outcome.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '@floe/testbed';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    tempRoot: string;
  }
}

export default async function setup(project: TestProject) {
  const tempRoot = mkdtempSync(join(tmpdir(), 'floe-tests-'));
  const pg = await startPostgres();
  project.provide('postgresAdminUrl', pg.url);
  project.provide('tempRoot', tempRoot);
  return () => {
    try {
      pg.stop();
    } finally {
      rmSync(tempRoot, { recursive: true, force: true });
    }
  };
}
