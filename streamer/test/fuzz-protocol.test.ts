// Property tests (fast-check) of what a browser sends the streamer: the signalling messages on
// its WebSocket and the input messages on its data channel. Whatever arrives, the schemas
// answer without throwing, accept only what LIMITS allows, and accept every well-formed
// message; a real streamer refuses each bad frame with a 4400 close and keeps serving; a real
// X server takes every accepted input message without the injector throwing.
// `npm test` runs a few hundred cases; FLOE_FUZZ_RUNS=20000 runs longer (docs/security.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadStreamerConfig } from '../src/config.ts';
import { bareDesktop } from '../src/desktop.ts';
import {
  CLOSE_CODES,
  GAMEPAD_AXES,
  GAMEPAD_BUTTONS,
  GAMEPAD_PADS,
  type InputMessage,
  LIMITS,
} from '../src/protocol.ts';
import { clientSignal, inputMessage } from '../src/protocol-schema.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { type InputInjector, openInputInjector } from '../src/x11/input.ts';

const RUNS = Number(process.env.FLOE_FUZZ_RUNS ?? 300);

/** JSON text a browser (or anything on its network path) could send: valid JSON or not. */
const anyText = fc.oneof(
  fc.string(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record({ type: fc.constantFrom('offer', 'ice', 'answer', 'welcome'), sdp: fc.anything() })
    .map((v) => JSON.stringify(v)),
  fc
    .record({
      t: fc.constantFrom('key', 'move', 'rel', 'resize', 'clipboard', 'gamepad'),
      x: fc.anything(),
    })
    .map((v) => JSON.stringify(v)),
);

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const { resize, maxDelta, maxKeysym, maxClipboard } = LIMITS;
const delta = fc.integer({ min: -maxDelta, max: maxDelta });
const unit = fc.double({ min: 0, max: 1, noNaN: true });
/** Every input message the protocol allows, at its bounds too. */
const validInput: fc.Arbitrary<InputMessage> = fc.oneof(
  fc.record({
    t: fc.constant('key'),
    keysym: fc.integer({ min: 1, max: maxKeysym }),
    down: fc.boolean(),
  }),
  fc.record({ t: fc.constant('move'), x: unit, y: unit }),
  fc.record({ t: fc.constant('rel'), dx: delta, dy: delta }),
  fc.record({
    t: fc.constant('button'),
    button: fc.integer({ min: 1, max: 9 }),
    down: fc.boolean(),
  }),
  fc.record({ t: fc.constant('wheel'), dx: delta, dy: delta }),
  fc.record({ t: fc.constant('reset') }),
  fc.record({ t: fc.constant('still-here') }),
  fc.record({ t: fc.constant('clipboard'), text: fc.string({ maxLength: 200 }) }),
  fc.record({
    t: fc.constant('resize'),
    width: fc.integer({ min: resize.minWidth, max: resize.maxWidth }),
    height: fc.integer({ min: resize.minHeight, max: resize.maxHeight }),
    scale: fc.option(fc.double({ min: LIMITS.scale.min, max: LIMITS.scale.max, noNaN: true }), {
      nil: undefined,
    }),
  }),
  fc.record({
    t: fc.constant('ping'),
    id: fc.integer(),
    sent: fc.double({ noNaN: true, noDefaultInfinity: true }),
  }),
  fc.record({
    t: fc.constant('control'),
    viewer: fc.stringMatching(/^[a-z0-9]{1,16}$/),
    on: fc.boolean(),
  }),
  fc.record({ t: fc.constant('remove'), viewer: fc.stringMatching(/^[a-z0-9]{1,16}$/) }),
  fc.record(
    {
      t: fc.constant('gamepad'),
      pad: fc.integer({ min: 0, max: GAMEPAD_PADS - 1 }),
      buttons: fc.array(
        fc.tuple(fc.integer({ min: 0, max: GAMEPAD_BUTTONS.length - 1 }), fc.boolean()),
        { maxLength: GAMEPAD_BUTTONS.length },
      ),
      axes: fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: GAMEPAD_AXES.length - 1 }),
          fc.double({ min: -1, max: 1, noNaN: true }),
        ),
        { maxLength: GAMEPAD_AXES.length },
      ),
    },
    { requiredKeys: ['t', 'pad'] },
  ),
) as fc.Arbitrary<InputMessage>;

/** What LIMITS promise about any accepted message. */
function withinLimits(m: InputMessage): boolean {
  const finite = (...n: number[]) => n.every(Number.isFinite);
  switch (m.t) {
    case 'key':
      return Number.isInteger(m.keysym) && m.keysym >= 1 && m.keysym <= maxKeysym;
    case 'move':
      return finite(m.x, m.y) && m.x >= 0 && m.x <= 1 && m.y >= 0 && m.y <= 1;
    case 'rel':
    case 'wheel':
      return [m.dx, m.dy].every((d) => Number.isInteger(d) && Math.abs(d) <= maxDelta);
    case 'button':
      return Number.isInteger(m.button) && m.button >= 1 && m.button <= 9;
    case 'clipboard':
      return m.text.length <= maxClipboard;
    case 'resize':
      return (
        m.width >= resize.minWidth &&
        m.width <= resize.maxWidth &&
        m.height >= resize.minHeight &&
        m.height <= resize.maxHeight &&
        (m.scale === undefined ||
          (finite(m.scale) && m.scale >= LIMITS.scale.min && m.scale <= LIMITS.scale.max))
      );
    case 'ping':
      return Number.isInteger(m.id) && finite(m.sent);
    case 'reset':
    case 'still-here':
      return true;
    case 'control':
    case 'remove':
      return /^[a-z0-9]{1,16}$/.test(m.viewer);
    case 'gamepad': {
      const inRange = (i: number, count: number) => Number.isInteger(i) && i >= 0 && i < count;
      return (
        inRange(m.pad, GAMEPAD_PADS) &&
        (m.buttons ?? []).every(([i]) => inRange(i, GAMEPAD_BUTTONS.length)) &&
        (m.axes ?? []).every(([i, v]) => inRange(i, GAMEPAD_AXES.length) && v >= -1 && v <= 1) &&
        (m.buttons ?? []).length <= GAMEPAD_BUTTONS.length &&
        (m.axes ?? []).length <= GAMEPAD_AXES.length
      );
    }
  }
}

describe('the protocol schemas', () => {
  it('answer anything without throwing, and accept only what LIMITS allow', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const value = parse(text);
        clientSignal.safeParse(value);
        const input = inputMessage.safeParse(value);
        return !input.success || withinLimits(input.data);
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it('accept every well-formed input message, sent as JSON', () => {
    fc.assert(
      fc.property(validInput, (m) => inputMessage.safeParse(parse(JSON.stringify(m))).success),
      { numRuns: RUNS * 10 },
    );
  });

  it('refuse a well-formed message with any one field replaced by something else', () => {
    fc.assert(
      fc.property(validInput, fc.anything(), (m, other) => {
        const fields = Object.keys(m).filter((k) => k !== 't');
        if (fields.length === 0) return true;
        const broken = { ...m, [fields[0] as string]: other };
        const r = inputMessage.safeParse(parse(JSON.stringify(broken)));
        return !r.success || withinLimits(r.data);
      }),
      { numRuns: RUNS * 10 },
    );
  });
});

describe('a streamer receiving random signalling frames', () => {
  let streamer: Streamer;
  beforeAll(async () => {
    const config = loadStreamerConfig({ DISPLAY: ':0', FLOE_STREAMER_PORT: '0' });
    streamer = await startStreamer(config, bareDesktop(640, 480), pino({ level: 'silent' }));
  });
  afterAll(() => streamer?.close());

  /** Sends one frame on a fresh connection; resolves with the close code and error code. */
  function sendOne(frame: string | Buffer): Promise<{ close: number; error?: string }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(new URL('signal', streamer.url.replace('http', 'ws')));
      let error: string | undefined;
      ws.on('message', (data) => {
        const m = JSON.parse(data.toString());
        if (m.type === 'welcome') ws.send(frame);
        if (m.type === 'error') error = m.code;
      });
      ws.on('close', (close) => resolve({ close, error }));
      ws.on('error', reject);
    });
  }

  it('closes with 4400 on each bad frame and keeps serving', async () => {
    const badFrames = fc.oneof(
      anyText.filter((t) => !clientSignal.safeParse(parse(t)).success),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc
        .string({ minLength: 1, maxLength: 200 })
        .map((sdp) => JSON.stringify({ type: 'offer', sdp })),
    );
    await fc.assert(
      fc.asyncProperty(badFrames, async (frame) => {
        const { close, error } = await sendOne(frame);
        expect(close).toBe(CLOSE_CODES.badMessage);
        expect(['bad_message', 'no_common_codec', 'negotiation_failed']).toContain(error);
      }),
      { numRuns: Math.max(20, RUNS / 3) },
    );
    // and a viewer is still welcomed afterwards
    const res = await fetch(new URL('healthz', streamer.url));
    expect(res.status).toBe(200);
  }, 120_000);
});

describe('a real X server receiving every accepted input message', () => {
  let work: string;
  let server: DisplayServer;
  let input: InputInjector;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'floe-fuzz-input-'));
    server = await startDisplayServer({ width: 800, height: 600, workDir: work });
    input = await openInputInjector(server.display);
  });
  afterAll(async () => {
    await input?.close();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('injects them without throwing and stays connected', async () => {
    const pointerOrKey = validInput.filter((m) =>
      ['key', 'move', 'rel', 'button', 'wheel', 'reset'].includes(m.t),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(pointerOrKey, { maxLength: 20 }), async (messages) => {
        for (const m of messages) {
          if (m.t === 'key') input.key(m.keysym, m.down);
          else if (m.t === 'move') input.moveAbsolute(m.x, m.y);
          else if (m.t === 'rel') input.moveRelative(m.dx, m.dy);
          else if (m.t === 'button') input.button(m.button, m.down);
          else if (m.t === 'wheel') input.wheel(m.dx, m.dy);
          else input.reset();
        }
        input.reset();
        await input.sync(); // the X connection answers: nothing we sent broke it
      }),
      { numRuns: Math.max(20, RUNS / 3) },
    );
  }, 120_000);
});
