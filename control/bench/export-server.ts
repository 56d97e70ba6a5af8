// The control plane of the export benchmark, in a process of its own so that its peak RSS is
// its own: started on the database the environment names, it tells its parent the port.
import { loadConfig } from '../src/config.ts';
import { listen, startControlPlane } from '../src/control-plane.ts';
import { createLogger } from '../src/log.ts';

const cp = await startControlPlane(
  loadConfig({ ...process.env, FLOE_LOCAL_CLUSTER: 'false' }),
  createLogger('warn'),
);
const server = await listen(cp, '127.0.0.1', 0);
process.send?.({ port: server.port });
process.on('message', async (m) => {
  if (m === 'stop') {
    await server.close();
    await cp.close({ terminateSessions: false });
    process.exit(0);
  }
});
