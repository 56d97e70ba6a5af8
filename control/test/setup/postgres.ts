// Vitest global setup: one throwaway PostgreSQL server for the run; each test file
// creates databases of its own in it.
import { startPostgres } from '@floe/testbed';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const pg = await startPostgres();
  project.provide('postgresAdminUrl', pg.url);
  return () => pg.stop();
}
