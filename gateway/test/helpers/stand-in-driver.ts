// STAND-IN cluster driver: a session launched on it runs at once, with the stand-in echo
// endpoint (echo-endpoint.ts) as its endpoint, so that the real control plane records a
// running session whose stream the gateway can proxy. The control plane's own lifecycle,
// ownership and lookups are all real; only "a pod came up" is played.
import type { ClusterDriver, LaunchSpec, Observation, SessionAddress } from '@floe/control';

export class StandInDriver implements ClusterDriver {
  private readonly listeners = new Set<(sessionId: string | null) => void>();
  private readonly running = new Set<string>();
  private readonly endpointFor: (sessionId: string) => string;

  constructor(endpointFor: (sessionId: string) => string) {
    this.endpointFor = endpointFor;
  }

  private changed(sessionId: string) {
    setImmediate(() => {
      for (const listener of this.listeners) listener(sessionId);
    });
  }

  async launch(spec: LaunchSpec) {
    this.running.add(spec.sessionId);
    this.changed(spec.sessionId);
  }

  async terminate({ sessionId }: SessionAddress) {
    if (this.running.delete(sessionId)) this.changed(sessionId);
  }

  observe({ sessionId }: SessionAddress): Observation {
    if (!this.running.has(sessionId)) {
      return { seen: 'absent', vanished: 'stand-in sessions do not survive restarts' };
    }
    const endpoint = this.endpointFor(sessionId);
    return { seen: 'present', state: 'running', endpoint, ref: { standIn: 1 }, ending: false };
  }

  onChange(listener: (sessionId: string | null) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  present() {
    return [...this.running];
  }

  async capacity() {
    return { gpus: [], maxSessions: null };
  }

  async close() {}
}
