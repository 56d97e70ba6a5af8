import { createWriteStream, existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mintTurnCredentials, TurnFleet } from '@floe/turn';
import { serve } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { nextBitrate, worthChanging } from './bitrate.ts';
import { Broadcast } from './broadcast.ts';
import { chooseCodec, offerFor } from './codec.ts';
import { audioSource, type StreamerConfig, transferPolicy } from './config.ts';
import type { TraceEntry } from './congestion/twcc-sender.ts';
import type { Desktop } from './desktop.ts';
import { HomeFiles } from './files/store.ts';
import { type FilesContext, ResumeBook, serveFiles } from './files/transfer.ts';
import { type GamepadHub, startGamepadHub } from './gamepad/hub.ts';
import { idleWarning, warningLead } from './idle-warning.ts';
import { createStreamerMetrics, type StreamerMetrics } from './metrics.ts';
import { type Microphone, startMicrophone } from './microphone.ts';
import { createViewerPeer, type ViewerPeer } from './peer.ts';
import { detectEncoders } from './pipeline.ts';
import {
  CLOSE_CODES,
  type IceCandidate,
  type IceServer,
  PROTOCOL_VERSION,
  type ServerSignal,
  type SignalErrorCode,
  type StreamerMessage,
  type TransferPolicy,
  type ViewerInfo,
} from './protocol.ts';
import { clientSignal, inputMessage } from './protocol-schema.ts';
import {
  controlsOnJoin,
  mayDo,
  mayHandOver,
  receivesClipboard,
  type ViewerRights,
} from './roles.ts';
import { MICROPHONE_SINK } from './sound-server.ts';
import { type ViewerClaims, viewerVerifier } from './viewer-token.ts';

const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/dist/stream', import.meta.url));
const HEARTBEAT_MS = 5000;

export interface Streamer {
  url: string;
  port: number;
  metrics: StreamerMetrics;
  /** Unix ms of the last input from a viewer, null before any. */
  lastInputAt(): number | null;
  close(): Promise<void>;
}

/**
 * The sidecar's server: the stream page at `/`, signalling at `/signal`, `/healthz` and
 * `/metrics`. Several users may watch at once (issue 19), each with its own peer, all fed by
 * one capture and encode (broadcast.ts), each allowed what its role lets it (roles.ts). One
 * user has one connection: what the same user's second one gets is the policy's call.
 */
export async function startStreamer(
  config: StreamerConfig,
  desktop: Desktop,
  log: Logger,
  /**
   * The session's gamepads, served already (the session runner starts them before the app,
   * which looks for its pads when it starts); else FLOE_STREAMER_GAMEPAD_DIR's, started here.
   */
  served: { gamepads?: GamepadHub } = {},
): Promise<Streamer> {
  const metrics = createStreamerMetrics();
  const turn = turnOffer(config, log);
  /** everyone watching, in the order they came */
  const watching = new Set<Viewer>();
  let broadcast: Broadcast | null = null;
  /** the last broadcast's stop, which close() waits for (no pipeline outlives the streamer) */
  let stopping: Promise<void> = Promise.resolve();
  let lastInputAt: number | null = null;
  const idle = idleNotices(
    config,
    () => lastInputAt,
    (notice) => {
      for (const v of watching) v.peer?.send(notice);
    },
  );
  const markInput = () => {
    lastInputAt = Date.now();
    metrics.lastInput.set(lastInputAt / 1000);
    idle.check();
  };
  const policy = transferPolicy(config);
  // the session's clipboard only to those who hold control (a view-only viewer reads nothing),
  // and to nobody when the session's policy turns the clipboard off (the page's are refused)
  desktop.onClipboard((text) => {
    if (!policy.clipboard) return;
    for (const v of watching)
      if (receivesClipboard(v.rights)) v.peer?.send({ t: 'clipboard', text });
  });
  const home = policy.files ? await openHome(config.FLOE_STREAMER_HOME!, log) : null;
  const gamepads =
    served.gamepads ??
    (config.FLOE_STREAMER_GAMEPAD_DIR
      ? await openGamepads(config.FLOE_STREAMER_GAMEPAD_DIR, log)
      : null);
  // the app's rumble goes to the pads of those who drive it
  gamepads?.onRumble((pad, rumble) => {
    for (const v of watching) if (v.rights.control) v.peer?.send({ t: 'rumble', pad, ...rumble });
  });
  /** Nothing a viewer held stays held when it leaves or loses control. */
  const releaseAll = () => {
    desktop.input({ t: 'reset' });
    gamepads?.reset();
  };
  const files: Omit<FilesContext, 'log'> = {
    policy: { ...policy, enabled: policy.files && home !== null },
    home,
    resume: new ResumeBook(),
    moved: (direction, bytes) => metrics.fileBytes.inc({ direction }, bytes),
  };
  const transfer: TransferPolicy = {
    clipboard: policy.clipboard,
    files: files.policy.enabled,
    maxFileBytes: policy.maxFileBytes,
    uploadFolder: policy.uploadFolder,
    downloadFolder: policy.downloadFolder,
  };
  // What this machine's GStreamer can encode with; NVENC shows up only on NVIDIA nodes.
  let encoders: Record<string, boolean> | null = null;
  detectEncoders(config.FLOE_STREAMER_PYTHON).then(
    (found) => {
      encoders = found;
      log.info({ encoders }, 'encoders found');
    },
    (error: Error) => log.error({ err: error.message }, 'GStreamer cannot start'),
  );

  const app = new Hono();
  app.get('/healthz', (c) =>
    c.json({
      status: 'ok',
      viewers: watching.size,
      display: desktop.size(),
      encoders,
      lastInputAt: lastInputAt && new Date(lastInputAt).toISOString(),
      // what this session allows of clipboard and files, as it was launched
      transfer: { ...transfer, maxHomeBytes: policy.maxHomeBytes },
    }),
  );
  // The stream page asks `turn` (beside itself) for the session's ICE servers: behind the
  // gateway, the gateway answers `/sessions/{id}/turn` with credentials it minted. Reached
  // directly, this streamer has no gateway's servers to give; its own come in the welcome.
  app.get('/turn', (c) =>
    c.json({ iceServers: [], expiresAt: null }, 200, { 'cache-control': 'no-store' }),
  );
  app.get('/metrics', async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  const webDir = config.FLOE_STREAMER_WEB_DIR ?? DEFAULT_WEB_DIR;
  if (existsSync(webDir)) app.use('/*', serveStatic({ root: webDir }));
  else log.warn({ webDir }, 'stream page not built (node web/build.ts); serving signalling only');

  const wss = new WebSocketServer({ noServer: true, maxPayload: 128 * 1024 });
  const server = serve({
    fetch: app.fetch,
    port: config.FLOE_STREAMER_PORT,
    hostname: config.FLOE_STREAMER_HOST,
  }) as Server;
  const keys = config.FLOE_VIEWER_JWKS_FILE
    ? { jwksFile: config.FLOE_VIEWER_JWKS_FILE }
    : config.FLOE_VIEWER_JWKS_URL && { jwksUrl: config.FLOE_VIEWER_JWKS_URL };
  const viewers =
    config.FLOE_VIEWER_ISSUER && keys
      ? viewerVerifier({
          issuer: config.FLOE_VIEWER_ISSUER,
          sessionId: config.FLOE_SESSION_ID,
          ...keys,
        })
      : null;
  if (!viewers) {
    log.warn('no FLOE_VIEWER_ISSUER: anyone who reaches this port may watch and control it');
  }
  server.on('upgrade', (request, socket, head) => {
    // Behind the gateway the page lives under /sessions/<id>/, so only the last segment counts.
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    if (!path.endsWith('/signal')) {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    if (!viewers) {
      wss.handleUpgrade(request, socket, head, (ws) => admit(ws, LOCAL_OWNER));
      return;
    }
    void viewers.check(request.headers).then((result) => {
      if (!result.ok) {
        metrics.connections.inc({ outcome: 'unauthorized' });
        log.warn({ reason: result.reason }, 'signalling refused: no valid viewer token');
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => admit(ws, result.viewer));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (error) => reject(new Error(`streamer cannot listen: ${error.message}`)));
  });
  const port = (server.address() as AddressInfo).port;

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if ((ws as AliveSocket).alive === false) ws.terminate();
      else {
        (ws as AliveSocket).alive = false;
        ws.ping();
      }
    }
  }, HEARTBEAT_MS);

  /** Tells everyone watching who is (on every join, leave and hand-over). */
  function announce() {
    const list: ViewerInfo[] = [...watching].map((v) => v.info());
    for (const v of watching) v.peer?.send({ t: 'viewers', you: v.id, viewers: list });
  }

  const owners = {
    /** The owner hands control to another viewer, or takes it back. */
    handOver(actor: Viewer, target: string, on: boolean) {
      const other = [...watching].find((v) => v.id === target);
      if (!other || !mayHandOver(actor.rights, other.rights, on)) return;
      other.rights.control = on;
      if (!on) releaseAll(); // nothing it held stays pressed
      log.info({ by: actor.name, viewer: other.name, control: on }, 'control handed over');
      announce();
    },
    /** The owner removes another viewer. */
    remove(actor: Viewer, target: string) {
      const other = [...watching].find((v) => v.id === target);
      if (!other || actor.rights.role !== 'owner' || other.rights.role === 'owner') return;
      log.info({ by: actor.name, viewer: other.name }, 'viewer removed');
      void other.end('removed', 'the owner removed you from this session', CLOSE_CODES.removed);
    },
  };

  function admit(ws: WebSocket, claims: ViewerClaims) {
    // the same user again (another tab): one connection per user, as the policy says
    const policy = config.FLOE_STREAMER_VIEWER_POLICY;
    const again = policy === 'share' ? undefined : [...watching].find((v) => v.sub === claims.sub);
    if (again) {
      if (policy === 'refuse') {
        metrics.connections.inc({ outcome: 'refused' });
        sendSignal(ws, { type: 'error', code: 'busy', message: 'another viewer is in control' });
        ws.close(CLOSE_CODES.busy, 'busy');
        return;
      }
      metrics.connections.inc({ outcome: 'taken_over' });
      void again.end('taken_over', 'another viewer took over', CLOSE_CODES.takenOver);
    }
    metrics.connections.inc({ outcome: 'accepted' });
    const current: Viewer = new Viewer(ws, claims, {
      config,
      files,
      transfer,
      iceServers: turn.iceServers,
      desktop,
      gamepads,
      releaseAll,
      log,
      metrics,
      onInput: markInput,
      idleNotice: idle.notice,
      broadcast: () => {
        if (!broadcast || broadcast.closed)
          broadcast = new Broadcast({ config, desktop, log, metrics });
        return broadcast;
      },
      owners,
      announce,
      onEnd: () => {
        watching.delete(current);
        metrics.viewers.set(watching.size);
        current.joined?.leave(current);
        // the encode stops with the last viewer (one still negotiating keeps it for itself)
        if (watching.size === 0 && broadcast) {
          stopping = broadcast.close();
          broadcast = null;
        }
        announce();
      },
    });
    watching.add(current);
    metrics.viewers.set(watching.size);
  }

  log.info({ port, display: desktop.display, source: desktop.source }, 'streamer listening');
  return {
    url: `http://${config.FLOE_STREAMER_HOST}:${port}/`,
    port,
    metrics,
    lastInputAt: () => lastInputAt,
    async close() {
      clearInterval(heartbeat);
      idle.stop();
      await turn.stop();
      await Promise.all(
        [...watching].map((v) =>
          v.end('negotiation_failed', 'the streamer is shutting down', CLOSE_CODES.goingAway),
        ),
      );
      await Promise.all([stopping, broadcast?.close(), gamepads?.close()]);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type AliveSocket = WebSocket & { alive?: boolean };

type IdleNotice = Extract<StreamerMessage, { t: 'idle' }>;

/**
 * The idle warning's clock (decisions in idle-warning.ts): a timer that wakes when the
 * warning starts, then each second while it shows, and tells the viewers whenever what they
 * should see changes. `check()` after input ends a warning at once.
 */
function idleNotices(
  config: StreamerConfig,
  lastInputAt: () => number | null,
  send: (notice: IdleNotice) => void,
) {
  const timeoutSeconds = config.FLOE_IDLE_TIMEOUT_SECONDS ?? null;
  const setting = config.FLOE_SHUTDOWN_WARNING_SECONDS;
  const leadSeconds = timeoutSeconds ? warningLead(timeoutSeconds, setting) : 0;
  const startedAtMs = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let shown: number | null = null;
  // the setting, not this timeout's lead: the page fits it to the lifetime (warningLead)
  const notice = (): IdleNotice => ({ t: 'idle', secondsLeft: shown, leadSeconds: setting });
  const check = () => {
    clearTimeout(timer);
    const now = idleWarning(
      { timeoutSeconds, leadSeconds, startedAtMs, lastInputAtMs: lastInputAt() },
      Date.now(),
    );
    const next = now.warn ? now.secondsLeft : null;
    if (next !== shown) {
      shown = next;
      send(notice());
    }
    if (now.checkInMs !== null) timer = setTimeout(check, now.checkInMs).unref();
  };
  check();
  return { check, notice, stop: () => clearTimeout(timer) };
}

/** Who connects when no gateway guards this streamer (local development): its owner. */
const LOCAL_OWNER: ViewerClaims = { sub: 'local', role: 'owner' };

function sendSignal(ws: WebSocket, message: ServerSignal) {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}

/**
 * The TURN servers to offer, with the credential for this viewer: minted here from the secret,
 * or the one the launcher minted for this session. With health checks on, only servers whose
 * last probes made a real allocation are offered (all of them until the first round of probes
 * has finished), to the browser and to werift alike.
 *
 * werift, before it starts connecting, waits for an allocation on the first TURN server it is
 * given: a server that does not answer held every open about 6.4 s (its 7 tries), so a dead
 * one must not be offered even when only a session's credential is at hand to probe it with.
 */
function turnOffer(
  config: StreamerConfig,
  log: Logger,
): { iceServers(): IceServer[]; stop(): Promise<void> } {
  const secret = config.FLOE_TURN_SECRET;
  const { FLOE_TURN_USERNAME: username, FLOE_TURN_CREDENTIAL: credential } = config;
  // minted for this session by the launcher, which keeps the secret
  const minted = !secret && username && credential ? { username, credential } : null;
  if (config.FLOE_TURN_URLS.length === 0 || (!secret && !minted))
    return { iceServers: () => [], stop: async () => {} };
  const fleet =
    config.FLOE_TURN_HEALTH_INTERVAL_MS > 0
      ? new TurnFleet({
          servers: config.FLOE_TURN_URLS.map((url) => ({ url })),
          ...(secret ? { secret } : { credential: minted! }),
          intervalMs: config.FLOE_TURN_HEALTH_INTERVAL_MS,
          probeSessionId: `${config.FLOE_SESSION_ID}-probe`,
          onChange: (h) =>
            log.info({ turn: h.url, healthy: h.healthy, error: h.lastError }, 'TURN server health'),
        })
      : null;
  fleet?.start();
  return {
    iceServers() {
      const probed = fleet?.status().some((h) => h.probedAt !== undefined);
      const urls = fleet && probed ? fleet.choose().map((h) => h.url) : config.FLOE_TURN_URLS;
      if (urls.length === 0) return [];
      const creds =
        minted ??
        mintTurnCredentials({
          secret: secret!,
          sessionId: config.FLOE_SESSION_ID,
          ttlSeconds: config.FLOE_TURN_TTL_SECONDS,
        });
      return [{ urls, ...creds }];
    },
    stop: async () => fleet?.stop(),
  };
}

/** The session's gamepads; a folder that cannot be served turns gamepads off. */
export async function openGamepads(dir: string, log: Logger): Promise<GamepadHub | null> {
  try {
    return await startGamepadHub(dir, log);
  } catch (error) {
    log.error({ err: (error as Error).message, dir }, 'no gamepads: their sockets cannot be made');
    return null;
  }
}

/** The home for file transfer; a home that cannot be opened turns file transfer off. */
async function openHome(path: string, log: Logger): Promise<HomeFiles | null> {
  try {
    return await HomeFiles.open(path);
  } catch (error) {
    log.error(
      { err: (error as Error).message, home: path },
      'no file transfer: the home cannot be opened',
    );
    return null;
  }
}

interface ViewerContext {
  config: StreamerConfig;
  files: Omit<FilesContext, 'log'>;
  transfer: TransferPolicy;
  iceServers: () => IceServer[];
  desktop: Desktop;
  /** the session's gamepads, null when it has none */
  gamepads: GamepadHub | null;
  /** releases every key, button and pad (a viewer in control left or lost control) */
  releaseAll: () => void;
  log: Logger;
  metrics: StreamerMetrics;
  onInput: () => void;
  /** what the idle warning says now, for a viewer whose channel just opened */
  idleNotice: () => StreamerMessage;
  /** the session's one capture and encode, started with its first viewer */
  broadcast: () => Broadcast;
  /** what the owner may do to the others (roles.ts decides) */
  owners: {
    handOver(actor: Viewer, target: string, on: boolean): void;
    remove(actor: Viewer, target: string): void;
  };
  /** tells everyone who is watching */
  announce: () => void;
  onEnd: () => void;
}

/** One connected browser: its signalling socket, its WebRTC peer, and its rights. */
class Viewer {
  peer: ViewerPeer | null = null;
  /** the broadcast this viewer's peer is fed by, once it joined it */
  joined: Broadcast | null = null;
  readonly id = Math.random().toString(36).slice(2, 10);
  readonly sub: string;
  readonly name: string;
  readonly rights: ViewerRights;
  /** what this viewer's link takes, kbps (its congestion control's answer) */
  wantedKbps: number;
  private ended = false;
  private statsTimer: NodeJS.Timeout | undefined;
  private lastSentBytes = 0;
  private readonly ws: WebSocket;
  private readonly ctx: ViewerContext;
  private readonly log: Logger;

  constructor(ws: WebSocket, claims: ViewerClaims, ctx: ViewerContext) {
    this.ws = ws;
    this.ctx = ctx;
    this.sub = claims.sub;
    this.name = claims.name ?? claims.sub;
    this.rights = { role: claims.role, control: controlsOnJoin(claims.role) };
    this.wantedKbps = ctx.config.FLOE_STREAMER_START_KBPS;
    this.log = ctx.log.child({ viewer: this.id, role: claims.role });
    (ws as AliveSocket).alive = true;
    ws.on('pong', () => {
      (ws as AliveSocket).alive = true;
    });
    ws.on('message', (data, isBinary) => this.onSignal(isBinary ? null : data.toString()));
    ws.on('close', () => void this.end());
    ws.on('error', (error) => this.log.warn({ err: error.message }, 'signalling socket error'));
    sendSignal(ws, {
      type: 'welcome',
      protocolVersion: PROTOCOL_VERSION,
      iceServers: ctx.iceServers(),
      codecs: ctx.config.FLOE_STREAMER_CODECS,
      display: ctx.desktop.size(),
      resizable: ctx.desktop.resizable,
      transfer: ctx.transfer,
    });
    this.log.info('viewer connected');
  }

  info(): ViewerInfo {
    const { role, control } = this.rights;
    return { id: this.id, name: this.name, user: this.sub, role, control };
  }

  private fail(code: SignalErrorCode, message: string, closeCode: number = CLOSE_CODES.badMessage) {
    this.log.warn({ code, message }, 'viewer refused');
    void this.end(code, message, closeCode);
  }

  private async onSignal(text: string | null) {
    let parsed: ReturnType<typeof clientSignal.safeParse>;
    try {
      parsed = clientSignal.safeParse(text === null ? null : JSON.parse(text));
    } catch {
      return this.fail('bad_message', 'signalling messages are JSON text');
    }
    if (!parsed.success)
      return this.fail('bad_message', parsed.error.issues[0]?.message ?? 'invalid');
    const message = parsed.data;
    if (message.type === 'offer') {
      if (this.peer) return this.fail('bad_message', 'renegotiation is not supported; reconnect');
      await this.negotiate(message.sdp, message.iceServers ?? []).catch((error: Error) =>
        this.fail('negotiation_failed', error.message, CLOSE_CODES.badMessage),
      );
    } else if (this.peer) {
      this.peer.addRemoteCandidate(message.candidate);
    }
  }

  /** `offered`: the page's ICE servers (the gateway's), used when this streamer has none. */
  private async negotiate(sdp: string, offered: IceServer[]) {
    const { config } = this.ctx;
    const own = this.ctx.iceServers();
    const broadcast = this.ctx.broadcast();
    // one encode for all: a later viewer must take the codec the first one chose
    const codecs = broadcast.codec ? [broadcast.codec] : config.FLOE_STREAMER_CODECS;
    const codec = chooseCodec(codecs, sdp);
    if (!codec) {
      return this.fail('no_common_codec', `the browser offered none of ${codecs.join(', ')}`);
    }
    broadcast.codec ??= codec;
    let early: (IceCandidate | null)[] | null = [];
    const pulse = audioSource(config, existsSync);
    this.peer = createViewerPeer({
      codec,
      audio: pulse !== null,
      iceServers: own.length > 0 ? own : offered,
      // werift gathers while answering; candidates must not reach the browser before the answer
      onLocalCandidate: (candidate) => {
        if (early) early.push(candidate);
        else sendSignal(this.ws, { type: 'ice', candidate });
      },
      onInput: (text) => this.onInput(text),
      onChannelOpen: () => {
        this.peer?.send({ t: 'display', ...this.ctx.desktop.size() });
        this.peer?.send(this.ctx.idleNotice());
        this.ctx.announce();
      },
      onFilesChannel: (channel) => {
        // files only for a viewer in control, checked at each request (control moves)
        const { rights } = this;
        const base = this.ctx.files.policy;
        const policy = {
          ...base,
          get enabled() {
            return base.enabled && rights.control;
          },
        };
        return serveFiles(channel, { ...this.ctx.files, policy, log: this.log });
      },
      onPictureLoss: (reason) => this.joined?.keyframe(reason),
      onCandidateError: (error) =>
        this.log.debug({ err: error.message }, 'remote candidate ignored'),
      onMicrophoneRtp: pulse === null ? undefined : (packet) => this.microphoneRtp(pulse, packet),
      bitrate: {
        minKbps: config.FLOE_STREAMER_MIN_KBPS,
        startKbps: this.wantedKbps,
        maxKbps: config.FLOE_STREAMER_MAX_KBPS,
      },
      // A cut reaches the encoder at once, not at the next 1 s tick: a queue on a narrowed
      // link grows by the whole excess every second it is not cut.
      onTargetBitrate: (kbps) => this.retarget(kbps),
      onCongestionTrace: traceWriter(config.FLOE_STREAMER_CC_TRACE),
      onStateChange: (state) => {
        this.log.info({ state }, 'peer connection');
        if (state === 'connected') this.joined?.keyframe('connect');
        if (state === 'failed' || state === 'closed') void this.end();
      },
    });
    const answer = await this.peer.answer(offerFor(codec, sdp));
    sendSignal(this.ws, { type: 'answer', sdp: answer, codec });
    for (const candidate of early) sendSignal(this.ws, { type: 'ice', candidate });
    early = null;
    if (this.ended) return;
    this.joined = broadcast;
    await broadcast.join(this, pulse);
    this.statsTimer = setInterval(() => void this.tick(), 1000);
  }

  /**
   * The viewer's microphone into the session. Its pipeline starts with the first packet (the
   * viewer turned the microphone on); packets that come while it starts wait for it.
   */
  private microphoneRtp(pulseServer: string, packet: Buffer) {
    // a view-only viewer's voice does not reach the session either (roles.ts)
    if (!this.rights.control) return;
    if (this.microphone) {
      this.microphone.then((m) => m?.write(packet));
      return;
    }
    if (this.ended) return;
    this.microphone = startMicrophone({
      python: this.ctx.config.FLOE_STREAMER_PYTHON,
      pulseServer,
      sink: MICROPHONE_SINK,
      payloadType: packet[1]! & 0x7f, // the RTP header's second byte: marker bit, payload type
      onExit: (reason) => this.log.warn({ reason }, 'microphone stopped'),
    }).then(
      (m) => {
        this.log.info('microphone on');
        if (this.ended) void m.stop();
        return m;
      },
      (error: Error) => {
        this.log.warn({ err: error.message }, 'no microphone');
        return null;
      },
    );
  }

  private microphone: Promise<Microphone | null> | null = null;

  private retarget(twccKbps: number) {
    const broadcast = this.joined;
    if (this.ended || !broadcast) return;
    const { config } = this.ctx;
    this.wantedKbps = nextBitrate(
      this.wantedKbps,
      { twccKbps, rembKbps: null, fractionLost: null },
      { minKbps: config.FLOE_STREAMER_MIN_KBPS, maxKbps: config.FLOE_STREAMER_MAX_KBPS },
    );
    broadcast.retune(worthChanging);
    this.ctx.metrics.targetBitrate.set(broadcast.kbps * 1000);
  }

  private async tick() {
    const broadcast = this.joined;
    if (!this.peer || this.ended || !broadcast) return;
    const { config, metrics } = this.ctx;
    const feedback = await this.peer.feedback();
    const sentBitrate = Math.max(0, (feedback.sentBytes - this.lastSentBytes) * 8);
    this.lastSentBytes = feedback.sentBytes;
    this.wantedKbps = nextBitrate(this.wantedKbps, feedback, {
      minKbps: config.FLOE_STREAMER_MIN_KBPS,
      maxKbps: config.FLOE_STREAMER_MAX_KBPS,
    });
    broadcast.retune(worthChanging);
    metrics.targetBitrate.set(broadcast.kbps * 1000);
    metrics.sentBitrate.set(sentBitrate);
    if (feedback.rttMs !== null) metrics.rtt.set(feedback.rttMs / 1000);
    this.send({
      t: 'stats',
      fps: broadcast.stats.fps,
      encodeMs: broadcast.stats.encodeMs,
      pipelineMs: broadcast.stats.pipelineMs,
      targetBitrate: broadcast.kbps * 1000,
      sentBitrate,
      rttMs: feedback.rttMs,
      codec: broadcast.codec!,
    });
  }

  pipelineExited(reason: string) {
    this.fail('negotiation_failed', reason, CLOSE_CODES.goingAway);
  }

  send(message: StreamerMessage) {
    this.peer?.send(message);
  }

  private onInput(text: string) {
    const { desktop, metrics } = this.ctx;
    let message: ReturnType<typeof inputMessage.safeParse>;
    try {
      message = inputMessage.safeParse(JSON.parse(text));
    } catch {
      metrics.inputEvents.inc({ type: 'invalid' });
      return;
    }
    if (!message.success) {
      metrics.inputEvents.inc({ type: 'invalid' });
      return;
    }
    const input = message.data;
    // the role is enforced here too, whatever the gateway let through (roles.ts)
    if (!mayDo(this.rights, input.t)) {
      metrics.inputEvents.inc({ type: 'refused' });
      return;
    }
    metrics.inputEvents.inc({ type: input.t });
    switch (input.t) {
      case 'ping':
        this.peer?.send({ t: 'pong', id: input.id, sent: input.sent, streamerTime: Date.now() });
        return;
      case 'clipboard':
        if (!this.ctx.transfer.clipboard) {
          metrics.inputEvents.inc({ type: 'refused' });
          this.peer?.send({
            t: 'refused',
            what: 'clipboard',
            message: 'the clipboard is turned off for this session',
          });
          return;
        }
        desktop.setClipboard(input.text);
        return;
      case 'resize':
        this.joined?.requestResize(input.width, input.height, input.scale);
        return;
      case 'still-here':
        this.ctx.onInput();
        return;
      case 'reset':
        // the page sends it by itself (focus lost, tab hidden): no sign of a person
        desktop.input(input);
        return;
      case 'control':
        this.ctx.owners.handOver(this, input.viewer, input.on);
        return;
      case 'remove':
        this.ctx.owners.remove(this, input.viewer);
        return;
      case 'gamepad':
        this.ctx.onInput();
        this.ctx.gamepads?.apply(input);
        return;
      default:
        this.ctx.onInput();
        desktop.input(input);
    }
  }

  async end(code?: SignalErrorCode, message?: string, closeCode?: number) {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.statsTimer);
    if (code && message) sendSignal(this.ws, { type: 'error', code, message });
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(closeCode ?? 1000, code ?? 'bye');
    if (this.rights.control) this.ctx.releaseAll();
    this.ctx.onEnd();
    await Promise.allSettled([this.peer?.close(), this.microphone?.then((m) => m?.stop())]);
    this.log.info({ reason: code ?? 'disconnected' }, 'viewer gone');
  }
}

/** Appends each congestion feedback to `path` as a JSON line; nothing without a path. */
function traceWriter(path: string | undefined) {
  if (!path) return undefined;
  const out = createWriteStream(path, { flags: 'a' });
  return (entry: TraceEntry) => out.write(`${JSON.stringify(entry)}\n`);
}
