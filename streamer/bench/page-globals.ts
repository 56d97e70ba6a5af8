// What the benchmarks read from the pages they open: the stream page's handle (web/src/stream/
// main.ts) and the peer probe's (web/src/peer-probe), as far as the benchmarks use them.

declare global {
  interface Window {
    __floe: {
      collectLatency: boolean;
      latencies: number[];
      frames: {
        totalMs: number;
        toReceiveMs: number | null;
        toPresentMs: number | null;
        toDisplayMs: number | null;
      }[];
      stats(): unknown;
    };
    /** A peer's page: web/src/peer-probe (its config set before it loads). */
    __floeProbe: {
      collectLatency: boolean;
      latencies: number[];
      mark(): Promise<void>;
      stats(): Promise<unknown>;
    };
    __floeProbeConfig: { relay: boolean };
  }
}

export {};
