export { createApi } from './api.ts';
export { type Config, loadConfig } from './config.ts';
export { type ControlPlane, listen, startControlPlane } from './control-plane.ts';
export { openDatabase } from './db/connect.ts';
export type {
  ClusterDriver,
  LaunchSpec,
  Observation,
  SessionAddress,
} from './drivers/driver.ts';
export * as schemas from './http/schemas.ts';
