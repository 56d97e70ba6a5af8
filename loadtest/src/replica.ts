// One control-plane replica of the load test, in a process of its own: the real control plane
// (config from the environment, as control/src/main.ts reads it) on the load test's
// PostgreSQL, whose sessions run on a stand-in cluster (gateway/test/helpers/stand-in-driver.ts:
// a launched session is running at once, its endpoint the load test's echo server). Nothing
// about the API, the database or the lifecycle is played; only "a pod came up".
//
// The runner forks it with an IPC channel and talks to it in messages (ReplicaMessage):
// the replica says `listening` with its port; the runner says `attach` once the stand-in
// cluster is registered (through any replica), and the replica answers `attached`.
import { listen, loadConfig, startControlPlane } from '@floe/control';
import { pino } from 'pino';
import { StandInDriver } from '../../gateway/test/helpers/stand-in-driver.ts';

export type ReplicaMessage =
  | { type: 'listening'; port: number }
  | { type: 'attach'; clusterId: string; endpoint: string }
  | { type: 'attached' };

const send = (m: ReplicaMessage) => process.send?.(m);

const config = loadConfig();
const cp = await startControlPlane(config, pino({ level: config.LOG_LEVEL }));
const server = await listen(cp, config.HOST, config.PORT);
send({ type: 'listening', port: server.port });

process.on('message', (m: ReplicaMessage) => {
  if (m.type !== 'attach') return;
  void cp.supervisor
    .attach(m.clusterId, new StandInDriver(() => m.endpoint))
    .then(() => send({ type: 'attached' }));
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.close();
  await cp.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
// the runner went away (crashed or killed): so does its replica
process.on('disconnect', () => void stop());
