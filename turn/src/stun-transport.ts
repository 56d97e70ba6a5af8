// STUN transactions over UDP or TCP to one server. werift encodes and checks the messages
// (attributes, MESSAGE-INTEGRITY, FINGERPRINT); this module only moves them and matches
// answers to requests. Over TCP, STUN messages simply follow one another (RFC 8489 §6.2.2).
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { classes, type Message, methods, parseMessage } from 'werift';
import type { TurnUrl } from './turn-url.ts';

/** A failed TURN exchange; `code` is the STUN error code when the server answered with one. */
export class TurnError extends Error {
  readonly code: number | undefined;
  constructor(message: string, code?: number) {
    super(message);
    this.name = 'TurnError';
    this.code = code;
  }
}

export interface StunTransport {
  /** what it is connected to, for messages: "udp 127.0.0.1:3478" */
  readonly label: string;
  /**
   * Sends `request` until its answer arrives (retransmitting over UDP) or `signal` aborts.
   * With `integrityKey`, a success answer counts only if its MESSAGE-INTEGRITY verifies;
   * error answers cannot carry one (the server may not know the key) and count as they are.
   */
  exchange(
    request: Message,
    opts: { signal: AbortSignal; integrityKey?: Buffer },
  ): Promise<Message>;
  close(): void;
}

const METHOD_NAMES: Record<number, string> = {
  [methods.BINDING]: 'Binding',
  [methods.ALLOCATE]: 'Allocate',
  [methods.REFRESH]: 'Refresh',
  [methods.CREATE_PERMISSION]: 'CreatePermission',
  [methods.CHANNEL_BIND]: 'ChannelBind',
};

export function methodName(message: Message): string {
  return METHOD_NAMES[message.messageMethod] ?? `method 0x${message.messageMethod.toString(16)}`;
}

// RFC 8489 §6.2.1: start at 500 ms and double; our callers bound the total with their signal.
const INITIAL_RTO_MS = 500;
const MAX_RTO_MS = 4_000;

interface Pending {
  integrityKey: Buffer | undefined;
  resolve(message: Message): void;
  reject(error: Error): void;
}

class Transactions implements StunTransport {
  readonly label: string;
  readonly #pending = new Map<string, Pending>();
  readonly #send: (bytes: Buffer) => void;
  readonly #reliable: boolean;
  readonly #destroy: () => void;
  #failure: Error | undefined;

  constructor(opts: {
    label: string;
    reliable: boolean;
    send: (bytes: Buffer) => void;
    destroy: () => void;
  }) {
    this.label = opts.label;
    this.#reliable = opts.reliable;
    this.#send = opts.send;
    this.#destroy = opts.destroy;
  }

  /** One STUN message from the server. */
  receive(data: Buffer) {
    const message = parseMessage(data);
    if (!message) return;
    if (message.messageClass !== classes.RESPONSE && message.messageClass !== classes.ERROR) return;
    const pending = this.#pending.get(message.transactionIdHex);
    if (!pending) return;
    if (pending.integrityKey && message.messageClass === classes.RESPONSE) {
      const verified = parseMessage(data, pending.integrityKey);
      // Not signed with our key: not from a server that knows the credential; keep waiting.
      if (verified) pending.resolve(verified);
      return;
    }
    pending.resolve(message);
  }

  /** The connection broke: every open transaction fails with `error`. */
  fail(error: Error) {
    this.#failure ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.close();
  }

  exchange(request: Message, opts: { signal: AbortSignal; integrityKey?: Buffer }) {
    const { signal, integrityKey } = opts;
    const what = methodName(request);
    return new Promise<Message>((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      const id = request.transactionIdHex;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        this.#pending.delete(id);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        finish();
        const why =
          (signal.reason as Error | undefined)?.name === 'TimeoutError' ? 'timed out' : 'aborted';
        reject(new TurnError(`no ${what} response from ${this.label} (${why})`));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        integrityKey,
        resolve: (message) => {
          finish();
          resolve(message);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      });
      const bytes = request.bytes;
      let rto = INITIAL_RTO_MS;
      const transmit = () => {
        this.#send(bytes);
        if (this.#reliable) return;
        timer = setTimeout(transmit, rto);
        rto = Math.min(rto * 2, MAX_RTO_MS);
      };
      transmit();
    });
  }

  close() {
    this.#failure ??= new TurnError(`connection to ${this.label} is closed`);
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#destroy();
  }
}

export interface StunTransportOptions {
  signal: AbortSignal;
  /** PEM CA certificate(s) to trust for turns: besides the system's (a private CA) */
  ca?: string;
}

export async function openStunTransport(
  server: TurnUrl,
  opts: StunTransportOptions,
): Promise<StunTransport> {
  const host = isIP(server.host) === 6 ? `[${server.host}]` : server.host;
  const label = `${server.transport} ${host}:${server.port}`;
  return server.transport === 'udp' ? openUdp(server, label) : openStream(server, label, opts);
}

async function openUdp(server: TurnUrl, label: string): Promise<StunTransport> {
  const address = isIP(server.host) ? server.host : (await lookup(server.host)).address;
  const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
  // A connected socket takes datagrams from the server only, and reports ICMP port
  // unreachable as ECONNREFUSED: a stopped server fails fast instead of timing out.
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(server.port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const lost = (err: Error) => new TurnError(`${label}: ${err.message}`);
  const transactions: Transactions = new Transactions({
    label,
    reliable: false,
    send: (bytes) => socket.send(bytes, (err) => err && transactions.fail(lost(err))),
    destroy: () => {
      try {
        socket.close();
      } catch {} // already closed
    },
  });
  socket.on('message', (data) => transactions.receive(data));
  socket.on('error', (err) => transactions.fail(lost(err)));
  return transactions;
}

async function openStream(
  server: TurnUrl,
  label: string,
  { signal, ca }: StunTransportOptions,
): Promise<StunTransport> {
  const { host, port } = server;
  const socket: Socket =
    server.transport === 'tls'
      ? connectTls({ host, port, ca, servername: isIP(host) ? undefined : host })
      : connect({ host, port });
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      socket.destroy();
      reject(new TurnError(`cannot connect to ${label} (timed out)`));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(new TurnError(`cannot connect to ${label}: ${err.message}`));
    });
    socket.once(server.transport === 'tls' ? 'secureConnect' : 'connect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
  socket.setNoDelay(true);
  const transactions = new Transactions({
    label,
    reliable: true,
    send: (bytes) => socket.write(bytes),
    destroy: () => socket.destroy(),
  });
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const length = frameLength(buffered);
      if (length === undefined || buffered.length < length) break;
      if (length === 0) {
        transactions.fail(
          new TurnError(`${label} sent bytes that are neither STUN nor ChannelData`),
        );
        return;
      }
      transactions.receive(buffered.subarray(0, length));
      buffered = buffered.subarray(length);
    }
  });
  socket.on('error', (err) => transactions.fail(new TurnError(`${label}: ${err.message}`)));
  socket.on('close', () => transactions.fail(new TurnError(`${label} closed the connection`)));
  return transactions;
}

/**
 * Bytes of the frame at the start of a TCP stream: a STUN message (first two bits 00) or
 * ChannelData (01, padded to 4 bytes over streams); undefined while the header is
 * incomplete, 0 for anything else.
 */
export function frameLength(data: Buffer): number | undefined {
  if (data.length < 4) return undefined;
  const kind = data[0]! >> 6;
  const length = data.readUInt16BE(2);
  if (kind === 0) return 20 + length;
  if (kind === 1) return 4 + length + ((4 - (length % 4)) % 4);
  return 0;
}
