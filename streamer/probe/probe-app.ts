/**
 * The probe: a real X application for tests and the latency benchmark.
 *
 * A window over the whole screen (it follows RandR resizes) repaints at --fps: the time barcode
 * (streamer/src/barcode.ts) at the top-left, a moving block so every frame differs, and a still
 * strip of red and blue pixel columns (CHROMA_STRIP). Every input
 * event it receives becomes one JSON line on stdout, so a test can inject input and see what an
 * app saw. Run `node streamer/probe/probe-app.ts --help`.
 */
import { parseArgs } from 'node:util';
import type { Geometry, XEvent } from 'x11';
import { BARCODE, encodeBarcode } from '../src/barcode.ts';
import { openConnection, type XConnection } from '../src/x11/connection.ts';
import { type Keymap, keysymAt, readKeymap } from '../src/x11/keymap.ts';

export type ProbeEvent =
  | { type: 'ready'; width: number; height: number }
  | { type: 'resize'; width: number; height: number }
  | { type: 'key'; down: boolean; keycode: number; keysym: number }
  | { type: 'button'; down: boolean; button: number; x: number; y: number }
  | { type: 'motion'; x: number; y: number };

export const USAGE = `usage: node streamer/probe/probe-app.ts [--fps N] [--display :N]

A full-screen X window that paints the latency barcode and a moving block every frame (and a
still strip of red and blue pixel columns, to tell 4:4:4 video from 4:2:0) and prints one
JSON line per input event it receives:
  {"type":"ready","width":W,"height":H}     mapped, focused and painting
  {"type":"resize","width":W,"height":H}    the screen changed size
  {"type":"key","down":true,"keycode":38,"keysym":97}
  {"type":"button","down":true,"button":1,"x":X,"y":Y}
  {"type":"motion","x":X,"y":Y}

  --fps N        frames per second (default 60)
  --display :N   X display (default $DISPLAY)
  --help         this text

Exits 0 on SIGTERM or SIGINT, 1 when the X server goes away.`;

export interface ProbeOptions {
  fps: number;
  display: string;
}

/** Options from argv, or a message for the user (an error, or the usage for --help). */
export function parseProbeArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
): ProbeOptions | { exit: number; message: string } {
  let values: { fps?: string; display?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { fps: { type: 'string' }, display: { type: 'string' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    return { exit: 2, message: `${(err as Error).message}\n\n${USAGE}` };
  }
  if (values.help) return { exit: 0, message: USAGE };
  const fps = Number(values.fps ?? 60);
  if (!Number.isFinite(fps) || fps <= 0 || fps > 1000) {
    return { exit: 2, message: `--fps must be a number in (0, 1000], got ${values.fps}` };
  }
  const display = values.display ?? env.DISPLAY;
  if (!display)
    return { exit: 2, message: `no display: pass --display or set DISPLAY\n\n${USAGE}` };
  return { fps, display };
}

const COLORS = {
  background: 0x203040,
  white: 0xffffff,
  black: 0x000000,
  block: 0xe0a020,
  red: 0xff0000,
  blue: 0x0000ff,
};
export const BLOCK = { size: 80, y: BARCODE.height + 40, step: 6 };
/**
 * Columns one pixel wide, red and blue in turn, below the block's path: colour detail that
 * 4:2:0 video cannot keep (both columns of a pair share one colour sample and turn purple),
 * and 4:4:4 keeps. Painted with the background, so it stays still.
 */
export const CHROMA_STRIP = { x: 0, y: BLOCK.y + BLOCK.size + 24, width: 64, height: 16 };
const SHIFT_MASK = 1;
const EVENT_MASK = {
  window: 0x1 | 0x2 | 0x4 | 0x8 | 0x40 | 0x8000, // keys, buttons, PointerMotion, Exposure
  root: 0x20000, // StructureNotify: ConfigureNotify when RandR resizes the screen
};

export interface Probe {
  /** Ends painting and closes the connection. */
  stop(): Promise<void>;
  /** Resolves when the X server went away (not after stop()). */
  lost: Promise<void>;
}

/** Opens the window and starts painting; `emit` gets each event, in order. */
export async function runProbe(opts: ProbeOptions, emit: (e: ProbeEvent) => void): Promise<Probe> {
  const conn = await openConnection(opts.display);
  const { X, root } = conn;
  const screen = await conn.request<Geometry>((cb) => X.GetGeometry(root, cb));
  let size = { width: screen.width, height: screen.height };

  const win = X.AllocID();
  X.CreateWindow(win, root, 0, 0, size.width, size.height, 0, 0, 1, 0, {
    backgroundPixel: COLORS.background,
    // no window manager may move or decorate it
    overrideRedirect: 1,
    eventMask: EVENT_MASK.window,
  });
  X.ChangeWindowAttributes(root, { eventMask: EVENT_MASK.root });
  const gc = (foreground: number) => {
    const id = X.AllocID();
    X.CreateGC(id, win, { foreground, graphicsExposures: 0 });
    return id;
  };
  const gcs = {
    background: gc(COLORS.background),
    white: gc(COLORS.white),
    black: gc(COLORS.black),
    block: gc(COLORS.block),
    red: gc(COLORS.red),
    blue: gc(COLORS.blue),
  };
  const columns = (from: number) =>
    Array.from({ length: CHROMA_STRIP.width / 2 }, (_, i) => [
      CHROMA_STRIP.x + from + 2 * i,
      CHROMA_STRIP.y,
      1,
      CHROMA_STRIP.height,
    ]).flat();
  X.MapWindow(win);
  // revert to PointerRoot: focus stays sane should the window go away
  X.SetInputFocus(win, 1);

  // Events are emitted through one chain, so a key event waits for a keymap read that a
  // MappingNotify before it started: the keysym is the one the mapping gives at that time.
  const readMapping = () => {
    const read = readKeymap(conn);
    read.catch(() => {}); // fails only when the server is gone, and then we exit anyway
    return read;
  };
  let keymap: Promise<Keymap> = readMapping();
  let queue = Promise.resolve();
  const inOrder = (make: () => ProbeEvent | Promise<ProbeEvent>) => {
    queue = queue.then(async () => emit(await make())).catch(() => {});
  };

  let frame = 0;
  let blockX = 0;
  const paint = (full: boolean) => {
    if (full) {
      X.PolyFillRectangle(win, gcs.background, [0, 0, size.width, size.height]);
      X.PolyFillRectangle(win, gcs.red, columns(0));
      X.PolyFillRectangle(win, gcs.blue, columns(1));
    } else {
      X.PolyFillRectangle(win, gcs.background, [blockX, BLOCK.y, BLOCK.size, BLOCK.size]);
    }
    const span = Math.max(1, size.width - BLOCK.size);
    blockX = (frame * BLOCK.step) % span;
    X.PolyFillRectangle(win, gcs.block, [blockX, BLOCK.y, BLOCK.size, BLOCK.size]);
    const white: number[] = [];
    const black: number[] = [];
    encodeBarcode(Date.now()).forEach((isWhite, i) => {
      (isWhite ? white : black).push(i * BARCODE.cellWidth, 0, BARCODE.cellWidth, BARCODE.height);
    });
    X.PolyFillRectangle(win, gcs.white, white);
    X.PolyFillRectangle(win, gcs.black, black);
    frame++;
  };

  X.on('event', (ev: XEvent) => {
    switch (ev.name) {
      case 'KeyPress':
      case 'KeyRelease': {
        const keycode = ev.keycode ?? 0;
        const shift = ((ev.buttons ?? 0) & SHIFT_MASK) !== 0;
        const down = ev.name === 'KeyPress';
        const mapping = keymap;
        inOrder(async () => ({
          type: 'key',
          down,
          keycode,
          keysym: keysymAt(await mapping, keycode, shift),
        }));
        break;
      }
      case 'ButtonPress':
      case 'ButtonRelease': {
        const e: ProbeEvent = {
          type: 'button',
          down: ev.name === 'ButtonPress',
          button: ev.keycode ?? 0,
          x: ev.x ?? 0,
          y: ev.y ?? 0,
        };
        inOrder(() => e);
        break;
      }
      case 'MotionNotify': {
        const e: ProbeEvent = { type: 'motion', x: ev.x ?? 0, y: ev.y ?? 0 };
        inOrder(() => e);
        break;
      }
      case 'MappingNotify':
        if (ev.request === 1) keymap = readMapping();
        break;
      case 'ConfigureNotify':
        if (ev.wid === root && (ev.width !== size.width || ev.height !== size.height)) {
          size = { width: ev.width ?? size.width, height: ev.height ?? size.height };
          X.ResizeWindow(win, size.width, size.height);
          paint(true);
          const e: ProbeEvent = { type: 'resize', ...size };
          inOrder(() => e);
        }
        break;
      case 'Expose':
        paint(true);
        break;
    }
  });
  // a failed request (say, focus while not yet viewable) is worth a note, not an exit
  X.on('error', (err) => process.stderr.write(`probe-app: X error ${err.error}\n`));

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const interval = 1000 / opts.fps;
  const start = performance.now();
  const tick = () => {
    if (stopped || conn.closed) return;
    paint(false);
    // paced against the start, so a late frame does not delay all that follow
    const next = start + frame * interval;
    timer = setTimeout(tick, Math.max(0, next - performance.now()));
  };

  paint(true);
  await conn.sync();
  tick();
  const ready: ProbeEvent = { type: 'ready', ...size };
  inOrder(() => ready);

  const lost = new Promise<void>((resolve) => {
    conn.onClose(() => {
      clearTimeout(timer);
      if (!stopped) resolve();
    });
  });
  return {
    lost,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await queue;
      await closeQuietly(conn);
    },
  };
}

async function closeQuietly(conn: XConnection) {
  try {
    await conn.close();
  } catch {}
}

async function main() {
  const opts = parseProbeArgs(process.argv.slice(2), process.env);
  if ('exit' in opts) {
    (opts.exit === 0 ? process.stdout : process.stderr).write(`${opts.message}\n`);
    process.exit(opts.exit);
  }
  let probe: Probe;
  try {
    probe = await runProbe(opts, (e) => process.stdout.write(`${JSON.stringify(e)}\n`));
  } catch (err) {
    process.stderr.write(`probe-app: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const stop = async () => {
    await probe.stop();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await probe.lost;
  process.stderr.write(`probe-app: the X server of ${opts.display} went away\n`);
  process.exit(1);
}

if (import.meta.main) await main();
