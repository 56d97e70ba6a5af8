/**
 * A UDP relay that delays what one address sends and receives: the delay and jitter of the
 * bad-network testbed (netns.ts), since this kernel has no netem. It stands in front of
 * coturn; the viewer is given its address as the TURN server's.
 *
 * Each direction waits `delayMs` ± up to `jitterMs` (uniform), like `netem delay D J`, but
 * packets keep their order (a packet never leaves before the one sent ahead of it): one path
 * through one queue does not reorder, and reordering would read as loss to NACK.
 * Packets from other addresses (the streamer's own TURN traffic) pass at once.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';

export interface DelayLine {
  port: number;
  /** One-way delay and jitter for each direction, ms. */
  set(delay: { delayMs: number; jitterMs: number }): void;
  close(): Promise<void>;
}

export async function startDelayLine(opts: {
  host: string;
  target: { host: string; port: number };
  /** the address whose traffic is delayed */
  delayed: string;
}): Promise<DelayLine> {
  const front = dgram.createSocket('udp4');
  front.bind(0, opts.host);
  await once(front, 'listening');
  let delay = { delayMs: 0, jitterMs: 0 };
  const clients = new Map<string, { back: dgram.Socket; up: Queue; down: Queue }>();
  const closed = { value: false };

  front.on('message', (packet, from) => {
    const key = `${from.address}:${from.port}`;
    let client = clients.get(key);
    if (!client) {
      const back = dgram.createSocket('udp4');
      back.bind(0, '127.0.0.1');
      const shaped = from.address === opts.delayed;
      const current = () => (shaped ? delay : { delayMs: 0, jitterMs: 0 });
      const entry = {
        back,
        up: new Queue((p) => back.send(p, opts.target.port, opts.target.host), current, closed),
        down: new Queue((p) => front.send(p, from.port, from.address), current, closed),
      };
      back.on('message', (reply) => entry.down.push(reply));
      back.on('error', () => {}); // the target went away: the run is ending
      clients.set(key, entry);
      client = entry;
    }
    client.up.push(packet);
  });
  front.on('error', () => {});

  return {
    port: front.address().port,
    set(next) {
      delay = next;
    },
    async close() {
      closed.value = true;
      for (const c of clients.values()) c.back.close();
      front.close();
    },
  };
}

/** Releases packets in order, each no earlier than its own delay. */
class Queue {
  private readonly items: { at: number; packet: Buffer }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastAt = 0;
  private readonly send: (packet: Buffer) => void;
  private readonly delay: () => { delayMs: number; jitterMs: number };
  private readonly closed: { value: boolean };

  constructor(
    send: (packet: Buffer) => void,
    delay: () => { delayMs: number; jitterMs: number },
    closed: { value: boolean },
  ) {
    this.send = send;
    this.delay = delay;
    this.closed = closed;
  }

  push(packet: Buffer) {
    const { delayMs, jitterMs } = this.delay();
    const now = performance.now();
    const wanted = now + delayMs + (Math.random() * 2 - 1) * jitterMs;
    this.lastAt = Math.max(wanted, this.lastAt);
    this.items.push({ at: this.lastAt, packet });
    this.flush();
  }

  private flush() {
    if (this.closed.value) return;
    const now = performance.now();
    while (this.items.length > 0 && this.items[0]!.at <= now + 0.5) {
      try {
        this.send(this.items.shift()!.packet);
      } catch {} // a socket already closed: the packet is lost
    }
    if (this.timer || this.items.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.items[0]!.at - now);
  }
}
