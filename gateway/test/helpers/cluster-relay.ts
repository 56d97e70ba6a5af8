// For cluster.test.ts: a node:cluster of three workers wired as the gateway's are
// (cluster.ts). The first worker stops a session; the primary prints, as JSON, which workers
// had forgotten it by the time the first was told that all had, then exits.
import cluster from 'node:cluster';
import { joinCluster, relayStops } from '../../src/cluster.ts';
import { createMetrics } from '../../src/metrics.ts';

if (cluster.isPrimary) {
  relayStops();
  const forgotten: number[] = [];
  cluster.on('message', (worker, msg: { report?: string; done?: true }) => {
    if (msg.report) forgotten.push(worker.id);
    if (msg.done) {
      process.stdout.write(`${JSON.stringify({ stopper: worker.id, forgotten })}\n`);
      for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    }
  });
  const ready = new Set<number>();
  cluster.on('online', (w) => {
    ready.add(w.id);
    if (ready.size === 3) cluster.workers?.[1]?.send({ stop: 'session-1' });
  });
  for (let i = 0; i < 3; i++) cluster.fork();
} else {
  const peers = joinCluster({
    metrics: createMetrics(),
    forgetLocally: (id) => process.send?.({ report: id }),
  });
  process.on('message', async (msg: { stop?: string }) => {
    if (!msg.stop) return;
    await peers.forget(msg.stop);
    process.send?.({ done: true });
  });
}
