export { freePort, type Postgres, startPostgres } from './postgres.ts';
