// STAND-IN cluster driver: a session launched on it runs at once, with the stand-in echo
// endpoint (echo-endpoint.ts) as its endpoint, so that the real control plane records a
// running session whose stream the gateway can proxy. The control plane's own lifecycle,
// ownership and lookups are all real; only "a pod came up" is played.
import type { ClusterDriver, DriverEvent, LaunchSpec } from '@floe/control';

export class StandInDriver implements ClusterDriver {
  private readonly listeners = new Set<(event: DriverEvent) => void>();
  private readonly endpointFor: (sessionId: string) => string;

  constructor(endpointFor: (sessionId: string) => string) {
    this.endpointFor = endpointFor;
  }

  private emit(event: DriverEvent) {
    setImmediate(() => {
      for (const listener of this.listeners) listener(event);
    });
  }

  async launch(spec: LaunchSpec) {
    this.emit({ sessionId: spec.sessionId, state: 'starting' });
    this.emit({
      sessionId: spec.sessionId,
      state: 'running',
      endpoint: this.endpointFor(spec.sessionId),
      ref: { standIn: 1 },
    });
  }

  async terminate(sessionId: string) {
    this.emit({ sessionId, state: 'stopped', reason: 'stopped' });
  }

  async adopt(sessionId: string) {
    this.emit({ sessionId, state: 'failed', reason: 'stand-in sessions do not survive restarts' });
  }

  watch(listener: (event: DriverEvent) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async capacity() {
    return { gpus: [], maxSessions: null };
  }

  async close() {}
}
