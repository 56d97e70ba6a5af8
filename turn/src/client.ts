// A minimal TURN client (RFC 8656) for probing and testing servers: one allocation,
// permissions, release. Not a relay for media: werift's TurnProtocol is that.
import { classes, Message, makeIntegrityKey, methods } from 'werift';
import { openStunTransport, type StunTransport, TurnError } from './stun-transport.ts';
import { parseTurnUrl, type TurnUrl } from './turn-url.ts';

/** REQUESTED-TRANSPORT for UDP (protocol 17 in the first byte), as werift packs it. */
const UDP_RELAY = 0x11000000;

export interface Allocation {
  relayedAddress: readonly [string, number];
  mappedAddress: readonly [string, number] | undefined;
  lifetimeSeconds: number;
  /** round trip of the first, unauthenticated Allocate: the network, not the auth backend */
  challengeRttMs: number;
}

export interface TurnClientOptions {
  url: string;
  username: string;
  credential: string;
  /** bounds every exchange of this client, e.g. AbortSignal.timeout(5000) */
  signal: AbortSignal;
  /** for turns: with a private CA, its PEM certificate */
  ca?: string;
}

interface Auth {
  realm: string;
  nonce: Buffer;
  key: Buffer;
}

export class TurnClient {
  readonly server: TurnUrl;
  readonly #transport: StunTransport;
  readonly #username: string;
  readonly #signal: AbortSignal;
  readonly #credential: string;
  #auth: Auth | undefined;

  private constructor(server: TurnUrl, transport: StunTransport, opts: TurnClientOptions) {
    this.server = server;
    this.#transport = transport;
    this.#username = opts.username;
    this.#credential = opts.credential;
    this.#signal = opts.signal;
  }

  static async connect(opts: TurnClientOptions): Promise<TurnClient> {
    const server = parseTurnUrl(opts.url);
    return new TurnClient(server, await openStunTransport(server, opts), opts);
  }

  /**
   * Allocate: the server must first refuse with 401 and a realm and nonce (a server that
   * allocates for anyone is an open relay, an error here), then accept the credential.
   */
  async allocate(): Promise<Allocation> {
    const request = () =>
      new Message(methods.ALLOCATE, classes.REQUEST).setAttribute('REQUESTED-TRANSPORT', UDP_RELAY);
    const started = performance.now();
    const challenge = await this.#transport.exchange(request(), { signal: this.#signal });
    const challengeRttMs = performance.now() - started;
    if (challenge.messageClass === classes.RESPONSE) {
      throw new TurnError(
        `${this.#transport.label} allocated without authentication: an open relay`,
      );
    }
    const [code, reason] = errorCode(challenge);
    const realm: unknown = challenge.getAttributeValue('REALM');
    const nonce: unknown = challenge.getAttributeValue('NONCE');
    if (code !== 401 || typeof realm !== 'string' || !Buffer.isBuffer(nonce)) {
      throw new TurnError(
        `Allocate without credentials: expected 401 with realm and nonce, got ${code} ${reason}`,
        code,
      );
    }
    this.#auth = { realm, nonce, key: makeIntegrityKey(this.#username, realm, this.#credential) };
    const response = await this.#authenticated(request, 'Allocate');
    const relayed: unknown = response.getAttributeValue('XOR-RELAYED-ADDRESS');
    if (!Array.isArray(relayed)) {
      throw new TurnError('Allocate success without XOR-RELAYED-ADDRESS');
    }
    return {
      relayedAddress: relayed as [string, number],
      mappedAddress: response.getAttributeValue('XOR-MAPPED-ADDRESS'),
      lifetimeSeconds: response.getAttributeValue('LIFETIME') ?? 0,
      challengeRttMs,
    };
  }

  /** Lets `peerIp` send to the allocation; a server that denies the peer answers 403. */
  async createPermission(peerIp: string): Promise<void> {
    await this.#authenticated(
      () =>
        new Message(methods.CREATE_PERMISSION, classes.REQUEST).setAttribute('XOR-PEER-ADDRESS', [
          peerIp,
          0,
        ]),
      `CreatePermission for ${peerIp}`,
    );
  }

  /** Deletes the allocation (Refresh with lifetime 0) rather than leaving it to time out. */
  async release(): Promise<void> {
    await this.#authenticated(
      () => new Message(methods.REFRESH, classes.REQUEST).setAttribute('LIFETIME', 0),
      'Refresh (release)',
    );
  }

  close() {
    this.#transport.close();
  }

  async #authenticated(build: () => Message, what: string): Promise<Message> {
    const auth = this.#auth;
    if (!auth) throw new Error(`${what} before allocate()`);
    // A stale nonce (438) gets one retry with the fresh nonce the server sent along.
    for (let attempt = 0; ; attempt++) {
      const request = build()
        .setAttribute('USERNAME', this.#username)
        .setAttribute('REALM', auth.realm)
        .setAttribute('NONCE', auth.nonce)
        .addMessageIntegrity(auth.key)
        .addFingerprint();
      const response = await this.#transport.exchange(request, {
        signal: this.#signal,
        integrityKey: auth.key,
      });
      if (response.messageClass === classes.RESPONSE) return response;
      const [code, reason] = errorCode(response);
      const nonce: unknown = response.getAttributeValue('NONCE');
      if (code === 438 && Buffer.isBuffer(nonce) && attempt === 0) {
        auth.nonce = nonce;
        continue;
      }
      throw new TurnError(`${what} refused by ${this.#transport.label}: ${code} ${reason}`, code);
    }
  }
}

function errorCode(message: Message): [number, string] {
  const value: unknown = message.getAttributeValue('ERROR-CODE');
  return Array.isArray(value) ? (value as [number, string]) : [0, 'without ERROR-CODE'];
}
