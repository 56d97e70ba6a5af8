// The session edge (FLOE_GATEWAY_EDGE=haproxy, or floe-edge: gateway/edge-proxy, the same
// design in Rust, driven by the same commands): HAProxy holds the users' port and takes the
// hot path of a stream, the owner's GETs of their session's own paths, straight to the
// session at nginx's speed (docs/benchmarks.md); the gateway keeps everything else, on a
// private Unix socket. The gateway decides, HAProxy only remembers: a request goes the fast
// way once the gateway's own fast path has let that cookie, host and session through, and
// only while the gateway would still let it. Each such verdict is an entry of HAProxy's map,
// added and deleted over its runtime API (no reloads):
//
// - every SWEEP_MS the gateway asks itself again, as its fast path would: a cookie due for
//   renewal, or a session that stopped, changed hands or moved, ends its entries at once,
//   and no entry rests on what the control plane said more than a second before (the same
//   cache as the fast path's). An entry lives as long as that holds, at most until its
//   cookie is due for renewal: ending entries on a timer made every user's next requests
//   wait for the gateway, a tail at the p99 (docs/benchmarks.md);
// - at most MAX_ENTRIES are held, the oldest ended first;
// - a stop, share or revoke through the gateway deletes the session's entries before it
//   answers (forget).
//
// The cookie itself is never in the map: its key is the cookie's SHA-256, as HAProxy hashes
// the one each request brings.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lookup as lookUpHost } from 'node:dns';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, isIP, type LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SessionClaims } from '../auth/session-token.ts';
import type { GatewaySession } from '../control-client.ts';
import { sessionAccess } from '../sessions/access.ts';
import { renderFloeEdgeConfig } from './floe-edge-config.ts';
import { type EdgeConfig, renderEdgeConfig } from './haproxy-config.ts';

/** Entries held at most (a user's cookie, host and session each). */
const MAX_ENTRIES = 50_000;
/** How often every entry is checked again. */
const SWEEP_MS = 250;
/** How long HAProxy has to answer on its runtime API after starting. */
const START_MS = 10_000;
/** Runs a program with a signal for when its parent dies (util-linux, on every Debian). */
const SETPRIV = '/usr/bin/setpriv';

/** What the edge needs of the rest of the gateway: the fast path's own checks. */
export interface EdgeDeps {
  sessions: {
    settled(claims: SessionClaims, csrfCookie: string | undefined, renew: boolean): boolean;
  };
  control: {
    cachedSession(id: string): GatewaySession | undefined;
  };
  /** how endpoint host names are resolved (default: the system's) */
  lookup?: LookupFunction;
  log: Logger;
}

/** A verdict of the fast path that the edge may repeat. */
export interface EdgeGrant {
  /** the session cookie's value */
  token: string;
  /** the request's Host header */
  host: string;
  sessionId: string;
  endpoint: string;
  claims: SessionClaims;
  csrfCookie: string | undefined;
}

interface Entry {
  sessionId: string;
  endpoint: string;
  claims: SessionClaims;
  csrfCookie: string | undefined;
}

export interface EdgeStats {
  /** requests sent straight to sessions */
  served: number;
  /** their answers, by status class (1xx … 5xx, other) */
  answers: Record<string, number>;
  /** requests passed to the gateway */
  toGateway: number;
}

/** A map key or value HAProxy's runtime API takes as one word. */
const WORD = /^[\x21-\x3a\x3c-\x5b\x5d-\x7e]+$/;

/** The map key of a cookie, host and session, as the edge's configuration computes it. */
export function entryKey(token: string, host: string, sessionId: string): string {
  const hash = createHash('sha256').update(token).digest('hex').toUpperCase();
  return `${hash}|${host.toLowerCase()}|${sessionId}`;
}

export type EdgeOptions = Omit<EdgeConfig, 'gatewaySocket' | 'adminSocket' | 'mapFile'> & {
  /** HAProxy, or floe-edge (gateway/edge-proxy), which takes the same runtime API commands */
  kind: 'haproxy' | 'floe-edge';
  /** its program */
  program: string;
  /** the edge ended on its own: the users' port is gone */
  onExit(reason: string): void;
};

export class SessionEdge {
  /** the private socket the gateway listens on, for the edge only */
  readonly gatewaySocket: string;
  private readonly dir: string;
  private readonly adminSocket: string;
  private readonly mapFile: string;
  private readonly deps: EdgeDeps;
  private readonly entries = new Map<string, Entry>();
  private child: ChildProcess | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private stopping = false;
  /** runtime API commands in flight, in order */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(deps: EdgeDeps) {
    this.deps = deps;
    // mkdtemp makes it 0700: the gateway's socket and HAProxy's API are this user's only
    this.dir = mkdtempSync(join(tmpdir(), 'floe-edge-'));
    this.gatewaySocket = join(this.dir, 'gateway.sock');
    this.adminSocket = join(this.dir, 'haproxy.sock');
    this.mapFile = join(this.dir, 'sessions.map');
  }

  /** Starts the edge on the users' port; the gateway must listen on gatewaySocket first. */
  async start(opts: EdgeOptions): Promise<void> {
    const { kind, program, onExit, ...settings } = opts;
    writeFileSync(this.mapFile, '');
    const config = {
      ...settings,
      gatewaySocket: this.gatewaySocket,
      adminSocket: this.adminSocket,
      mapFile: this.mapFile,
    };
    const configFile = join(this.dir, kind === 'haproxy' ? 'haproxy.cfg' : 'floe-edge.json');
    writeFileSync(
      configFile,
      kind === 'haproxy' ? renderEdgeConfig(config) : renderFloeEdgeConfig(config),
    );
    // through util-linux's setpriv where there is one: the edge gets SIGTERM when the gateway
    // dies, even by SIGKILL, rather than holding the users' port with no gateway behind it
    const edge = kind === 'haproxy' ? [program, '-db', '-f', configFile] : [program, configFile];
    const argv = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'TERM', '--', ...edge] : edge;
    if (argv === edge) {
      this.deps.log.warn(`no ${SETPRIV}: the edge outlives the gateway if the gateway is killed`);
    }
    // spawns: setpriv haproxy floe-edge (FLOE_GATEWAY_EDGE_PROGRAM)
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['ignore', config.accessLog ? 'inherit' : 'ignore', 'pipe'],
    });
    this.child = child;
    let stderrTail = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderrTail = (stderrTail + d.toString()).slice(-2000);
      for (const line of d.toString().split('\n')) {
        if (/\[(ALERT|WARNING)\]/.test(line)) this.deps.log.warn({ haproxy: line }, 'edge');
      }
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        const reason = `${kind} exited (${signal ?? code}): ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`;
        if (!this.stopping) onExit(reason);
        reject(new Error(reason));
      });
    });
    exited.catch(() => {});
    const deadline = Date.now() + START_MS;
    for (;;) {
      const answered = await Promise.race([
        this.command('show info').then(
          () => true,
          () => false,
        ),
        exited,
      ]);
      if (answered) break;
      if (Date.now() > deadline) throw new Error(`haproxy did not start in ${START_MS} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** The edge's process id, once started */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** One runtime API command (or several, `;`-separated) and HAProxy's answer. */
  private command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.adminSocket);
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        answer += d;
      });
      socket.once('error', reject);
      socket.once('end', () => resolve(answer));
      socket.end(`${line}\n`);
    });
  }

  /** Commands in the order they were asked for (an add never overtakes a delete). */
  private serially(line: string): Promise<string> {
    const next = this.queue.then(() => this.command(line));
    this.queue = next.catch(() => {});
    return next;
  }

  /**
   * Lets the edge take this cookie's requests for this session on this host, as the fast
   * path just did (its GET was proxied). Nothing waits for it: until HAProxy has the entry,
   * the gateway serves as before.
   */
  allow(grant: EdgeGrant): void {
    if (this.stopping) return;
    const key = entryKey(grant.token, grant.host, grant.sessionId);
    const known = this.entries.get(key);
    if (known && known.endpoint === grant.endpoint) return;
    if (!WORD.test(key)) return;
    const entry: Entry = {
      sessionId: grant.sessionId,
      endpoint: grant.endpoint,
      claims: grant.claims,
      csrfCookie: grant.csrfCookie,
    };
    this.entries.delete(key); // (re)inserted last: the map's order is their age
    this.entries.set(key, entry);
    if (this.entries.size > MAX_ENTRIES) {
      void this.delete([this.entries.keys().next().value as string]);
    }
    this.destination(grant.endpoint).then(
      (value) => {
        // forgotten or replaced while its address was looked up
        if (this.entries.get(key) !== entry) return;
        if (!value) {
          this.entries.delete(key);
          return;
        }
        // a moved session's entry is replaced (runtime API commands run in order)
        if (known) void this.serially(`del map ${this.mapFile} ${key}`).catch(() => {});
        this.serially(`add map ${this.mapFile} ${key} ${value}`).then(
          (answer) => {
            // HAProxy answers an empty line when it did it, and why not otherwise
            if (answer.trim())
              this.deps.log.warn({ answer: answer.trim() }, 'edge: entry not added');
          },
          (err: Error) => this.deps.log.warn({ err: err.message }, 'edge: entry not added'),
        );
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
  }

  /**
   * An endpoint as the map holds it, `ip|port|prefix|host`; null for one the edge does not
   * take (not plain http, or a character the map cannot hold).
   */
  private async destination(endpoint: string): Promise<string | null> {
    const url = new URL(endpoint);
    if (url.protocol !== 'http:' || url.search || url.username) return null;
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const ip = isIP(hostname)
      ? hostname
      : await new Promise<string>((resolve, reject) =>
          (this.deps.lookup ?? lookUpHost)(hostname, {}, (err, address) =>
            err ? reject(err) : resolve(address as string),
          ),
        );
    const value = `${ip}|${url.port || '80'}|${url.pathname.replace(/\/+$/, '')}|${url.host}`;
    return WORD.test(value) ? value : null;
  }

  /** Deletes every entry of a session, and resolves once HAProxy has. */
  async forget(sessionId: string): Promise<void> {
    const keys = [...this.entries].filter(([, e]) => e.sessionId === sessionId).map(([k]) => k);
    await this.delete(keys);
  }

  private async delete(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) this.entries.delete(key);
    if (this.stopping) return;
    await this.serially(keys.map((k) => `del map ${this.mapFile} ${k}`).join(';')).catch(
      (err: Error) => this.deps.log.warn({ err: err.message }, 'edge: entries were not deleted'),
    );
  }

  /** Ends the entries the fast path would no longer let through. */
  private sweep() {
    const ended: string[] = [];
    for (const [key, e] of this.entries) {
      const session = this.deps.control.cachedSession(e.sessionId);
      const verdict = sessionAccess(session ?? null, {
        tenantId: e.claims.tenant_id,
        userId: e.claims.uid,
      });
      if (
        !this.deps.sessions.settled(e.claims, e.csrfCookie, true) ||
        !verdict.allow ||
        verdict.endpoint !== e.endpoint
      ) {
        ended.push(key);
      }
    }
    void this.delete(ended);
  }

  /** The entries the gateway holds (for tests and the gateway's own view). */
  get size(): number {
    return this.entries.size;
  }

  /** HAProxy's counters since it started (its `show stat`). */
  async stats(): Promise<EdgeStats> {
    const csv = await this.command('show stat');
    const [header, ...lines] = csv.split('\n');
    const columns = (header ?? '').replace(/^# /, '').split(',');
    const row = (proxy: string) => {
      const cells = lines
        .map((l) => l.split(','))
        .find((r) => r[0] === proxy && r[1] === 'BACKEND');
      return (column: string) => Number(cells?.[columns.indexOf(column)] ?? 0) || 0;
    };
    const sessions = row('sessions');
    return {
      served: sessions('stot'),
      answers: Object.fromEntries(
        ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'].map((c) => [c, sessions(`hrsp_${c}`)]),
      ),
      toGateway: row('gateway')('stot'),
    };
  }

  /** Requests HAProxy sent straight to sessions since it started. */
  async served(): Promise<number> {
    return (await this.stats()).served;
  }

  async close(): Promise<void> {
    this.stopping = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
