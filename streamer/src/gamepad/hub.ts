/**
 * A session's gamepads (docs/gamepads.md): the state of each of the browser's pads, served to
 * the app over unix sockets in `dir` (js0–js3, event0–event3), which the app's LD_PRELOAD
 * interposer (streamer/gamepad/interposer.c) connects to when it opens /dev/input/jsN or
 * /dev/input/eventN. No device node, no /dev/uinput: nothing needs a privilege.
 *
 * Every pad exists from the start, at rest, whether or not the browser has one: apps look for
 * pads when they start, and the browser shows a pad only once it is used (hot-plug is not
 * modelled). A reader of jsN gets joydev's burst of the whole state when it connects; an evdev
 * reader gets changes only, as from the kernel.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { GAMEPAD_PADS } from '../protocol.ts';
import {
  applyChanges,
  decodeInputEvent,
  evdevEvents,
  type GamepadMessage,
  INPUT_EVENT_BYTES,
  jsEvents,
  jsInitEvents,
  type PadState,
  type Rumble,
  restingPad,
  rumbleOf,
  toRest,
} from './records.ts';

/** What a reader that does not read may have waiting; beyond it, records are dropped (as joydev's). */
const BACKLOG_BYTES = 64 * 1024;

export interface GamepadHub {
  /** the folder of the sockets, as this process sees it */
  readonly dir: string;
  /** A change from the browser (already validated, from a viewer in control). */
  apply(message: GamepadMessage): void;
  /** Every pad back to rest: nothing stays pressed when its viewer leaves or loses control. */
  reset(): void;
  /** The app made pad `pad` rumble. */
  onRumble(listener: (pad: number, rumble: Rumble) => void): void;
  close(): Promise<void>;
}

interface Pad {
  state: PadState;
  js: Set<Socket>;
  evdev: Set<Socket>;
}

/** The name of pad `pad`'s socket for a reader of `node` (what interposer.c connects to). */
export const socketName = (node: 'js' | 'event', pad: number) => `${node}${pad}`;

export async function startGamepadHub(dir: string, log: Logger): Promise<GamepadHub> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const pads: Pad[] = Array.from({ length: GAMEPAD_PADS }, () => ({
    state: restingPad(),
    js: new Set(),
    evdev: new Set(),
  }));
  const rumbleListeners: ((pad: number, rumble: Rumble) => void)[] = [];
  const servers: Server[] = [];

  const serve = async (pad: number, node: 'js' | 'event') => {
    const path = join(dir, socketName(node, pad));
    await rm(path, { force: true });
    const server = createServer((socket) => {
      const readers = node === 'js' ? pads[pad]!.js : pads[pad]!.evdev;
      readers.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => readers.delete(socket));
      if (node === 'js') socket.write(jsInitEvents(pads[pad]!.state, Date.now()));
      else readRumble(pad, socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    // the app may run as another user (the sandbox's): the folder above guards the sockets
    await chmod(path, 0o666);
    servers.push(server);
  };

  /** An evdev reader's writes: its rumble effects and their playing. */
  const readRumble = (pad: number, socket: Socket) => {
    let effects = new Map<number, Rumble>();
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= INPUT_EVENT_BYTES) {
        const event = decodeInputEvent(pending);
        pending = pending.subarray(INPUT_EVENT_BYTES);
        const result = rumbleOf(effects, event);
        effects = result.effects;
        if (result.play) for (const listener of rumbleListeners) listener(pad, result.play);
      }
    });
  };

  for (let pad = 0; pad < GAMEPAD_PADS; pad++) {
    await serve(pad, 'js');
    await serve(pad, 'event');
  }
  log.info({ dir, pads: GAMEPAD_PADS }, 'gamepads served');

  const send = (socket: Socket, records: Buffer) => {
    if (socket.writableLength < BACKLOG_BYTES) socket.write(records);
  };

  const apply = (pad: number, message: Pick<GamepadMessage, 'buttons' | 'axes'>) => {
    const p = pads[pad];
    if (!p) return;
    const { state, changed } = applyChanges(p.state, message);
    p.state = state;
    const now = Date.now();
    if (p.js.size > 0) {
      const records = jsEvents(changed, now);
      if (records.length > 0) for (const s of p.js) send(s, records);
    }
    if (p.evdev.size > 0) {
      const records = evdevEvents(changed, now);
      if (records.length > 0) for (const s of p.evdev) send(s, records);
    }
  };

  return {
    dir,
    apply: (message) => apply(message.pad, message),
    reset() {
      pads.forEach((p, pad) => {
        apply(pad, toRest(p.state));
      });
    },
    onRumble(listener) {
      rumbleListeners.push(listener);
    },
    async close() {
      for (const p of pads) for (const s of [...p.js, ...p.evdev]) s.destroy();
      await Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
    },
  };
}
