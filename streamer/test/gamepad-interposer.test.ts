// The gamepad interposer (streamer/gamepad/interposer.c) under real readers, against a real hub
// (gamepad/hub.ts): a Python program that asks the device what it is with the kernel's ioctls
// (the layout must be protocol.ts's), reads its records and makes it rumble; and the readers
// of Debian's `joystick` and `evtest` packages, jstest and evtest, which print what they read.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildInterposer } from '../src/gamepad/build.ts';
import { type GamepadHub, startGamepadHub } from '../src/gamepad/hub.ts';
import type { Rumble } from '../src/gamepad/records.ts';
import { GAMEPAD_AXES, GAMEPAD_BUTTONS } from '../src/protocol.ts';

let work: string;
let lib: string;
let hub: GamepadHub;
const running: ChildProcess[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'floe-gamepad-'));
  lib = await buildInterposer(join(work, 'cache'));
  hub = await startGamepadHub(join(work, 'pads'), pino({ level: 'silent' }));
}, 60_000);

afterEach(() => {
  for (const p of running.splice(0)) p.kill('SIGKILL');
  hub.reset();
});

afterAll(async () => {
  await hub?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Starts `argv` with the interposer; its stdout as lines, waited for by `until`. */
function reader(argv: string[]) {
  // spawns: python3 jstest evtest (what the tests below pass)
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { PATH: process.env.PATH, LD_PRELOAD: lib, FLOE_GAMEPAD_DIR: join(work, 'pads') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.push(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const until = async (match: (line: string) => boolean, what: string, timeoutMs = 10_000) => {
    for (let waited = 0; waited < timeoutMs; waited += 20) {
      const found = lines.find(match);
      if (found !== undefined) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${what} from ${argv[0]}; it printed:\n${lines.join('\n')}\n${stderr}`);
  };
  return { child, lines, until };
}

// Python's os.open and fcntl.ioctl go through libc's open and ioctl, which the interposer takes.
const PROBE = `
import fcntl, json, os, struct, sys
IOC = lambda d, t, nr, size: (d << 30) | (size << 16) | (ord(t) << 8) | nr
R, W = 2, 1
out = lambda **kw: print(json.dumps(kw), flush=True)
js = os.open('/dev/input/js0', os.O_RDONLY)
ax = bytearray(1); fcntl.ioctl(js, IOC(R, 'j', 0x11, 1), ax)
bt = bytearray(1); fcntl.ioctl(js, IOC(R, 'j', 0x12, 1), bt)
name = bytearray(128); n = fcntl.ioctl(js, IOC(R, 'j', 0x13, 128), name)
axmap = bytearray(64); fcntl.ioctl(js, IOC(R, 'j', 0x32, 64), axmap)
btnmap = bytearray(1024); fcntl.ioctl(js, IOC(R, 'j', 0x34, 1024), btnmap)
out(what='js', axes=ax[0], buttons=bt[0], name=name[:n - 1].decode(),
    axmap=list(axmap[:ax[0]]), btnmap=list(struct.unpack('<%dH' % bt[0], btnmap[:2 * bt[0]])))
ev = os.open('/dev/input/event0', os.O_RDWR)
ident = bytearray(8); fcntl.ioctl(ev, IOC(R, 'E', 0x02, 8), ident)
keys = bytearray(96); fcntl.ioctl(ev, IOC(R, 'E', 0x21, 96), keys)
absz = bytearray(24); fcntl.ioctl(ev, IOC(R, 'E', 0x40 + 0x02, 24), absz)
effect = bytearray(struct.pack('<HhHHHHH2xHH28x', 0x50, -1, 0, 0, 0, 250, 0, 65535, 32768))
fcntl.ioctl(ev, IOC(W, 'E', 0x80, 48), effect)
fid = struct.unpack_from('<h', effect, 2)[0]
out(what='evdev', id=list(struct.unpack('<4H', ident)),
    keys=[b for b in range(768) if keys[b // 8] >> (b % 8) & 1],
    trigger=list(struct.unpack('<6i', absz)), effect=fid)
os.write(ev, struct.pack('<qqHHi', 0, 0, 0x15, fid, 1))
while True:
    data = os.read(js, 8)
    time, value, kind, number = struct.unpack('<IhBB', data)
    out(what='event', type=kind, number=number, value=value)
`;

// An SDL program (pygame, on the machine's SDL 2): finds the pads by listing /dev/input, takes
// them for Xbox 360 controllers, and reads a button and the hat.
const SDL_PROBE = `
import json, os, time
os.environ['SDL_VIDEODRIVER'] = 'dummy'
os.environ['SDL_AUDIODRIVER'] = 'dummy'
import pygame
from pygame._sdl2 import controller
pygame.init(); controller.init()
pads = [pygame.joystick.Joystick(i) for i in range(pygame.joystick.get_count())]
out = lambda **kw: print(json.dumps(kw), flush=True)
out(what='pads', names=[p.get_name() for p in pads], controllers=[controller.is_controller(i) for i in range(len(pads))],
    buttons=pads[0].get_numbuttons(), axes=pads[0].get_numaxes(), hats=pads[0].get_numhats())
while True:
    for e in pygame.event.get():
        if e.type == pygame.JOYBUTTONDOWN: out(what='button', joy=e.joy, button=e.button)
        if e.type == pygame.JOYHATMOTION: out(what='hat', joy=e.joy, value=list(e.value))
    time.sleep(0.01)
`;

describe('the gamepad interposer', () => {
  it('describes the layout of protocol.ts, passes records and rumble', async () => {
    const rumbles: [number, Rumble][] = [];
    hub.onRumble((pad, rumble) => rumbles.push([pad, rumble]));
    const probe = reader(['python3', '-c', PROBE]);
    const js = JSON.parse(await probe.until((l) => l.includes('"js"'), 'joystick ioctls'));
    expect(js).toEqual({
      what: 'js',
      axes: GAMEPAD_AXES.length,
      buttons: GAMEPAD_BUTTONS.length,
      name: 'Floe virtual gamepad (Xbox 360 layout)',
      axmap: GAMEPAD_AXES.map((a) => a.code),
      btnmap: GAMEPAD_BUTTONS.map((b) => b.code),
    });
    const evdev = JSON.parse(await probe.until((l) => l.includes('"evdev"'), 'evdev ioctls'));
    expect(evdev).toEqual({
      what: 'evdev',
      id: [0x03, 0x045e, 0x028e, 0x0114],
      keys: GAMEPAD_BUTTONS.map((b) => b.code),
      trigger: [0, 0, 255, 0, 0, 0],
      effect: 0,
    });
    // the burst of the state on open: every button and axis, flagged JS_EVENT_INIT
    await probe.until((l) => l.includes('"number": 7') && l.includes('"type": 130'), 'init');
    const init = probe.lines.filter((l) => l.includes('"event"')).map((l) => JSON.parse(l));
    expect(init).toHaveLength(GAMEPAD_BUTTONS.length + GAMEPAD_AXES.length);
    hub.apply({ t: 'gamepad', pad: 0, buttons: [[0, true]], axes: [[2, 1]] });
    await probe.until((l) => l.includes('"type": 2, "number": 2'), 'the trigger');
    const after = probe.lines.slice(-2).map((l) => JSON.parse(l));
    expect(after).toEqual([
      { what: 'event', type: 1, number: 0, value: 1 },
      { what: 'event', type: 2, number: 2, value: 32767 },
    ]);
    expect(rumbles).toEqual([[0, { strong: 1, weak: 32768 / 65535, duration: 250 }]]);
  });

  it('is read by jstest', async () => {
    const jstest = reader(['jstest', '--event', '/dev/input/js0']);
    await jstest.until((l) => /type 130, time \d+, number 7, value 0/.test(l), 'init burst');
    hub.apply({ t: 'gamepad', pad: 0, buttons: [[3, true]], axes: [[0, -1]] });
    await jstest.until((l) => /type 1, time \d+, number 3, value 1$/.test(l), 'the button');
    await jstest.until((l) => /type 2, time \d+, number 0, value -32767$/.test(l), 'the stick');
    expect(jstest.lines.join('\n')).toMatch(
      /Joystick \(Floe virtual gamepad \(Xbox 360 layout\)\) has 8 axes \(X, Y, Z, Rx, Ry, Rz, Hat0X, Hat0Y\)/,
    );
  });

  it('is found and read by SDL', async () => {
    // spawns: /usr/bin/python3 (Debian's, with python3-pygame)
    const sdl = reader(['/usr/bin/python3', '-c', SDL_PROBE]);
    const pads = JSON.parse(await sdl.until((l) => l.includes('"pads"'), 'the pads it found'));
    expect(pads).toEqual({
      what: 'pads',
      names: Array(4).fill('Xbox 360 Controller'), // SDL's name for the pad of these ids
      controllers: [true, true, true, true],
      buttons: GAMEPAD_BUTTONS.length,
      axes: 6,
      hats: 1,
    });
    // A press reaches the readers the hub has accepted by then. SDL opened the pads before it
    // printed them, but under load the hub may not have accepted that connection yet, and a
    // press before it is one the device never reported (as a kernel's would not either):
    // pressed again after a release until SDL reports it.
    for (let attempt = 1; ; attempt++) {
      hub.apply({ t: 'gamepad', pad: 2, buttons: [[1, true]] });
      const seen = await sdl
        .until((l) => l.includes('"joy": 2, "button": 1'), 'the B button', 1000)
        .catch((err: Error) => (attempt < 10 ? null : Promise.reject(err)));
      if (seen) break;
      hub.apply({ t: 'gamepad', pad: 2, buttons: [[1, false]] });
    }
    hub.apply({ t: 'gamepad', pad: 2, axes: [[6, 1]] });
    await sdl.until((l) => l.includes('"hat", "joy": 2, "value": [1, 0]'), 'the d-pad');
  });

  it('is read by evtest', async () => {
    const evtest = reader(['evtest', '/dev/input/event1']);
    await evtest.until((l) => l.startsWith('Testing'), 'its start');
    expect(evtest.lines.join('\n')).toMatch(/Input device ID: bus 0x3 vendor 0x45e product 0x28e/);
    expect(evtest.lines.join('\n')).toMatch(/Event code 2 \(ABS_Z\)[\s\S]*Max\s+255/);
    hub.apply({ t: 'gamepad', pad: 1, buttons: [[7, true]], axes: [[7, 1]] });
    await evtest.until(
      (l) => /type 1 \(EV_KEY\), code 315 \(BTN_START\), value 1/.test(l),
      'start',
    );
    await evtest.until((l) => /type 3 \(EV_ABS\), code 17 \(ABS_HAT0Y\), value 1/.test(l), 'hat');
    await evtest.until((l) => /SYN_REPORT/.test(l), 'the report');
  });
});
