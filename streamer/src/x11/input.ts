/**
 * Injects the browser's input into the X server with XTEST FakeInput over one connection.
 *
 * Keys arrive as keysyms: what the user's own layout produced. The injector presses a keycode
 * that gives that keysym in the current Shift state; when the server's layout has none, it binds
 * the keysym to a free keycode (both levels the same keysym, so Shift does not matter) and
 * recycles those keycodes least-recently-used first. That is how 'é', 'ж' or '€' reach an app
 * whose server runs a US layout.
 *
 * Input comes from the network: nothing here throws on bad values. Each call returns whether it
 * did something; false means the input was ignored (invalid, or a release of nothing held).
 */
import type { Geometry, XEvent, XTestExt } from 'x11';
import { openConnection, type XConnection } from './connection.ts';
import { emptyKeycodes, type Keymap, keycodeFor, readKeymap, row } from './keymap.ts';

export interface InputInjector {
  key(keysym: number, down: boolean): boolean;
  /** Pointer to a fraction (0..1) of the current screen size. */
  moveAbsolute(fx: number, fy: number): boolean;
  /** Pointer by pixels, unaccelerated. */
  moveRelative(dx: number, dy: number): boolean;
  /** X buttons 1..9 (1 left, 2 middle, 3 right, 4/5 wheel, 6/7 horizontal wheel, 8/9 side). */
  button(n: number, down: boolean): boolean;
  /** Wheel notches: dy > 0 scrolls down (button 5), dx > 0 right (button 7). */
  wheel(dx: number, dy: number): boolean;
  /** Releases every key and button this injector holds (the viewer lost focus or left). */
  reset(): void;
  /** Resolves once the server has processed all input sent so far (and we saw its answers). */
  sync(): Promise<void>;
  /** Releases what is held, unbinds the keycodes it bound, closes the connection. */
  close(): Promise<void>;
}

const SHIFT_KEYSYMS = new Set([0xffe1, 0xffe2]); // Shift_L, Shift_R
const VOID_SYMBOL = 0xffffff;
/** Keysyms are 29-bit (Unicode ones are 0x1000000 + code point, vendor ones higher). */
const MAX_KEYSYM = 0x1fffffff;
/** A wheel call scrolls at most this many notches, so one message cannot flood the server. */
const MAX_WHEEL_NOTCHES = 50;
const MAX_DELTA = 10_000;

export async function openInputInjector(display: string): Promise<InputInjector> {
  const conn = await openConnection(display);
  try {
    const xtest = await conn.request<XTestExt>((cb) => conn.X.require('xtest', cb));
    const keymap = await readKeymap(conn);
    const size = await conn.request<Geometry>((cb) => conn.X.GetGeometry(conn.root, cb));
    return createInjector(conn, xtest, keymap, size);
  } catch (err) {
    await conn.close();
    throw err;
  }
}

function createInjector(
  conn: XConnection,
  xtest: XTestExt,
  initialKeymap: Keymap,
  initialSize: { width: number; height: number },
): InputInjector {
  const { X, root } = conn;
  let keymap = initialKeymap;
  let screen = { width: initialSize.width, height: initialSize.height };
  /** Keycodes we bound → keysym, least recently used first. */
  const bound = new Map<number, number>();
  /** Keysym → keycode pressed for it, so the release goes to the same keycode. */
  const heldKeys = new Map<number, number>();
  const heldButtons = new Set<number>();
  /** MappingNotify events our own ChangeKeyboardMapping will cause, per keycode. */
  const ownChanges = new Map<number, number>();
  /** The re-read of a layout another client changed, while one runs. */
  let refreshing = Promise.resolve();

  // root ConfigureNotify tracks RandR resizes, so fractions map onto the current size
  X.ChangeWindowAttributes(root, { eventMask: 0x20000 /* StructureNotify */ });
  X.on('event', (ev: XEvent) => {
    if (ev.name === 'ConfigureNotify' && ev.wid === root && ev.width && ev.height) {
      screen = { width: ev.width, height: ev.height };
    } else if (ev.name === 'MappingNotify' && ev.request === 1) {
      onMappingNotify(ev.firstKeyCode ?? 0, ev.count ?? 0);
    }
  });

  function onMappingNotify(first: number, count: number) {
    const expected = ownChanges.get(first) ?? 0;
    if (count === 1 && expected > 0) {
      if (expected === 1) ownChanges.delete(first);
      else ownChanges.set(first, expected - 1);
      return;
    }
    // another client changed the layout (setxkbmap, an app): read it again and keep those of
    // our bindings it left alone (a row still empty may just predate a binding made since)
    refreshing = readKeymap(conn)
      .then((fresh) => {
        for (const [keycode, keysym] of bound) {
          if (row(fresh, keycode)?.every((k) => k === 0 || k === keysym)) {
            setRow(fresh, keycode, keysym);
          } else {
            bound.delete(keycode);
          }
        }
        keymap = fresh;
      })
      .catch(() => {});
  }

  function setRow(map: Keymap, keycode: number, keysym: number) {
    const r = row(map, keycode);
    if (!r) return;
    r.fill(0);
    r[0] = keysym;
    if (r.length > 1) r[1] = keysym;
  }

  /** Binds `keysym` to an empty keycode, else to the least recently used of ours not held. */
  function bind(keysym: number): number | undefined {
    let keycode: number | undefined = emptyKeycodes(keymap)[0];
    if (keycode === undefined) {
      const held = new Set(heldKeys.values());
      for (const k of bound.keys()) {
        if (!held.has(k)) {
          keycode = k;
          break;
        }
      }
    }
    if (keycode === undefined) return undefined;
    bound.delete(keycode);
    bound.set(keycode, keysym);
    setRow(keymap, keycode, keysym);
    ownChanges.set(keycode, (ownChanges.get(keycode) ?? 0) + 1);
    X.ChangeKeyboardMapping(keycode, keymap.keysymsPerKeycode, row(keymap, keycode)!);
    return keycode;
  }

  function keycodeForKeysym(keysym: number): number | undefined {
    for (const [keycode, ks] of bound) {
      if (ks === keysym) {
        bound.delete(keycode); // most recently used goes last
        bound.set(keycode, ks);
        return keycode;
      }
    }
    const shift = [...heldKeys.keys()].some((k) => SHIFT_KEYSYMS.has(k));
    return keycodeFor(keymap, keysym, shift) ?? bind(keysym);
  }

  const fake = (type: number, detail: number, x = 0, y = 0) => {
    if (conn.closed) return false;
    xtest.FakeInput(type, detail, 0, type === xtest.MotionNotify && detail === 0 ? root : 0, x, y);
    return true;
  };

  const release = () => {
    for (const keycode of heldKeys.values()) fake(xtest.KeyRelease, keycode);
    heldKeys.clear();
    for (const n of heldButtons) fake(xtest.ButtonRelease, n);
    heldButtons.clear();
  };

  const clickRepeated = (buttonNo: number, notches: number) => {
    for (let i = 0; i < Math.min(notches, MAX_WHEEL_NOTCHES); i++) {
      fake(xtest.ButtonPress, buttonNo);
      fake(xtest.ButtonRelease, buttonNo);
    }
  };

  return {
    key(keysym, down) {
      const ks = normalizeKeysym(keysym);
      if (ks === undefined || conn.closed) return false;
      if (!down) {
        const keycode = heldKeys.get(ks);
        if (keycode === undefined) return false;
        heldKeys.delete(ks);
        return fake(xtest.KeyRelease, keycode);
      }
      // the browser's auto-repeat: the X server repeats a held key on its own
      if (heldKeys.has(ks)) return false;
      const keycode = keycodeForKeysym(ks);
      if (keycode === undefined) return false;
      heldKeys.set(ks, keycode);
      return fake(xtest.KeyPress, keycode);
    },

    moveAbsolute(fx, fy) {
      if (!Number.isFinite(fx) || !Number.isFinite(fy)) return false;
      const at = (f: number, n: number) => Math.min(n - 1, Math.floor(clamp(f, 0, 1) * n));
      return fake(xtest.MotionNotify, 0, at(fx, screen.width), at(fy, screen.height));
    },

    moveRelative(dx, dy) {
      if (!Number.isFinite(dx) || !Number.isFinite(dy)) return false;
      const d = (v: number) => Math.round(clamp(v, -MAX_DELTA, MAX_DELTA));
      return fake(xtest.MotionNotify, 1, d(dx), d(dy));
    },

    button(n, down) {
      if (!Number.isInteger(n) || n < 1 || n > 9) return false;
      if (down === heldButtons.has(n)) return false;
      if (down) heldButtons.add(n);
      else heldButtons.delete(n);
      return fake(down ? xtest.ButtonPress : xtest.ButtonRelease, n);
    },

    wheel(dx, dy) {
      if (!Number.isFinite(dx) || !Number.isFinite(dy) || conn.closed) return false;
      const x = Math.round(clamp(dx, -MAX_DELTA, MAX_DELTA));
      const y = Math.round(clamp(dy, -MAX_DELTA, MAX_DELTA));
      if (y) clickRepeated(y > 0 ? 5 : 4, Math.abs(y));
      if (x) clickRepeated(x > 0 ? 7 : 6, Math.abs(x));
      return x !== 0 || y !== 0;
    },

    reset: release,

    async sync() {
      await conn.sync();
      // a MappingNotify that came before the reply has started a re-read; let it land
      await refreshing;
    },

    async close() {
      if (conn.closed) return;
      release();
      // give the keycodes back empty, as we found them
      for (const keycode of bound.keys()) {
        const empty = new Array<number>(keymap.keysymsPerKeycode).fill(0);
        X.ChangeKeyboardMapping(keycode, keymap.keysymsPerKeycode, empty);
      }
      bound.clear();
      await conn.sync().catch(() => {});
      await conn.close();
    },
  };
}

/** A valid keysym, with Unicode keysyms for Latin-1 folded to the Latin-1 keysym X layouts use. */
function normalizeKeysym(keysym: number): number | undefined {
  if (!Number.isInteger(keysym) || keysym <= 0 || keysym > MAX_KEYSYM) return undefined;
  if (keysym === VOID_SYMBOL) return undefined;
  if (keysym > 0xffffff && keysym < 0x1000100) {
    const cp = keysym - 0x1000000;
    return (cp >= 0x20 && cp <= 0x7e) || cp >= 0xa0 ? cp : undefined;
  }
  return keysym;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
