// Input injection with XTEST into a real Xorg (dummy driver): the probe app, a separate X
// client, reports what it received; xdotool reads the pointer independently.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeEvent } from '../probe/probe-app.ts';
import { type ProbeProcess, startProbeProcess } from '../probe/probe-process.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { type InputInjector, openInputInjector } from '../src/x11/input.ts';
import { resizeDisplay } from '../src/x11/resize.ts';

type KeyEvent = Extract<ProbeEvent, { type: 'key' }>;
type ButtonEvent = Extract<ProbeEvent, { type: 'button' }>;

const SHIFT_L = 0xffe1;
const RETURN = 0xff0d;

let work: string;
let server: DisplayServer;
let probe: ProbeProcess;
let input: InputInjector;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'floe-x11-input-'));
  server = await startDisplayServer({ width: 1000, height: 700, workDir: work });
  probe = await startProbeProcess({ display: server.display, fps: 30 });
  input = await openInputInjector(server.display);
});

afterAll(async () => {
  await input?.close();
  await probe?.stop();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

function xdotool(...args: string[]): string {
  return execFileSync('xdotool', args, { env: { ...process.env, DISPLAY: server.display } })
    .toString()
    .trim();
}

function pointer(): { x: number; y: number } {
  const out = xdotool('getmouselocation', '--shell');
  return { x: Number(/X=(\d+)/.exec(out)?.[1]), y: Number(/Y=(\d+)/.exec(out)?.[1]) };
}

/** The probe's key events from index `from` on, once the release of `keysym` arrived. */
async function keyEvents(from: number, lastKeysym: number): Promise<KeyEvent[]> {
  const isKey = (e: ProbeEvent): e is KeyEvent => e.type === 'key';
  await probe.waitFor((e) => isKey(e) && !e.down && e.keysym === lastKeysym, { from });
  return probe.events.slice(from).filter(isKey);
}

/** Presses and releases `keysym`; resolves with what the app saw (`seen`) for it. */
async function tap(keysym: number, seen = keysym): Promise<KeyEvent[]> {
  const from = probe.events.length;
  expect(input.key(keysym, true)).toBe(true);
  expect(input.key(keysym, false)).toBe(true);
  return keyEvents(from, seen);
}

describe('InputInjector', () => {
  it('types keysyms the layout has: a, A with Shift held, Return', async () => {
    const [aDown, aUp] = await tap(0x61);
    expect(aDown).toMatchObject({ down: true, keysym: 0x61 });
    expect(aUp).toMatchObject({ down: false, keysym: 0x61, keycode: aDown!.keycode });

    const from = probe.events.length;
    input.key(SHIFT_L, true);
    input.key(0x41, true);
    input.key(0x41, false);
    input.key(SHIFT_L, false);
    const events = await keyEvents(from, SHIFT_L);
    expect(events.map((e) => [e.down, e.keysym])).toEqual([
      [true, SHIFT_L],
      [true, 0x41],
      [false, 0x41],
      [false, SHIFT_L],
    ]);
    // the same key as 'a', shifted: no keycode was bound for it
    expect(events[1]!.keycode).toBe(aDown!.keycode);

    const [enter] = await tap(RETURN);
    expect(enter).toMatchObject({ down: true, keysym: RETURN });
  });

  it('binds keysyms the layout lacks to spare keycodes: é, ж, €, 😀', async () => {
    const usKeycodes = new Set([(await tap(0x61))[0]!.keycode, (await tap(RETURN))[0]!.keycode]);
    // Latin-1, Cyrillic, a keysym from the currency block, a Unicode keysym (0x1000000 + U+1F600)
    for (const keysym of [0xe9, 0x6d6, 0x20ac, 0x101f600]) {
      const [down, up] = await tap(keysym);
      expect(down).toMatchObject({ down: true, keysym });
      expect(up).toMatchObject({ down: false, keysym, keycode: down!.keycode });
      expect(usKeycodes.has(down!.keycode)).toBe(false);
    }
    // both levels carry the keysym, so Shift held does not change it
    const from = probe.events.length;
    input.key(SHIFT_L, true);
    input.key(0xe9, true);
    input.key(0xe9, false);
    input.key(SHIFT_L, false);
    const events = await keyEvents(from, SHIFT_L);
    expect(events.find((e) => e.down && e.keycode !== events[0]!.keycode)?.keysym).toBe(0xe9);
    // the Unicode keysym of a Latin-1 character is the Latin-1 keysym
    const [latin1] = await tap(0x10000e9, 0xe9);
    expect(latin1).toMatchObject({ down: true, keysym: 0xe9 });
  });

  it('recycles spare keycodes, least recently used first', async () => {
    const eAcute = (await tap(0xe9))[0]!.keycode;
    const used = new Set<number>();
    // more distinct keysyms than there are spare keycodes; é stays in use throughout
    for (let i = 0; i < 300; i++) {
      const keysym = 0x1004e00 + i; // CJK ideographs
      const [down] = await tap(keysym);
      expect(down!.keysym).toBe(keysym);
      used.add(down!.keycode);
      if (i % 20 === 0) expect((await tap(0xe9))[0]!.keycode).toBe(eAcute);
    }
    expect(used.has(eAcute)).toBe(false);
    expect(used.size).toBeLessThan(300);
  });

  it('passes on no second press of a key held (the X server repeats held keys itself)', async () => {
    const from = probe.events.length;
    expect(input.key(0x62, true)).toBe(true);
    expect(input.key(0x62, true)).toBe(false);
    expect(input.key(0x62, false)).toBe(true);
    const events = await keyEvents(from, 0x62);
    expect(events.map((e) => e.down)).toEqual([true, false]);
  });

  it('clicks buttons and turns the wheel in notches', async () => {
    const from = probe.events.length;
    input.moveAbsolute(0.1, 0.1);
    input.button(1, true);
    input.button(1, false);
    input.button(3, true);
    input.button(3, false);
    input.wheel(0, 2); // down: button 5 twice
    input.wheel(0, -1); // up: 4
    input.wheel(1, 0); // right: 7
    input.wheel(-1, 0); // left: 6
    const isButton = (e: ProbeEvent): e is ButtonEvent => e.type === 'button';
    await probe.waitFor((e) => isButton(e) && !e.down && e.button === 6, { from });
    const buttons = probe.events.slice(from).filter(isButton);
    expect(buttons.map((e) => `${e.button}${e.down ? '↓' : '↑'}`)).toEqual([
      ...['1↓', '1↑', '3↓', '3↑'],
      ...['5↓', '5↑', '5↓', '5↑', '4↓', '4↑', '7↓', '7↑', '6↓', '6↑'],
    ]);
    expect(buttons[0]).toMatchObject({ x: 100, y: 70 });
  });

  it('moves the pointer to fractions of the screen', async () => {
    input.moveAbsolute(0.5, 0.25);
    await input.sync();
    expect(pointer()).toEqual({ x: 500, y: 175 });
    const from = probe.events.length;
    input.moveAbsolute(1, 1);
    await probe.waitFor((e) => e.type === 'motion' && e.x === 999 && e.y === 699, { from });
    input.moveAbsolute(0, 0);
    await input.sync();
    expect(pointer()).toEqual({ x: 0, y: 0 });
  });

  it('moves the pointer by pixels, unaccelerated', async () => {
    input.moveAbsolute(0.5, 0.5);
    input.moveRelative(30, -20);
    await input.sync();
    expect(pointer()).toEqual({ x: 530, y: 330 });
    input.moveRelative(-1, 2);
    await input.sync();
    expect(pointer()).toEqual({ x: 529, y: 332 });
  });

  it('releases everything held on reset', async () => {
    const from = probe.events.length;
    input.key(0x63, true);
    input.key(SHIFT_L, true);
    input.button(2, true);
    input.reset();
    await probe.waitFor((e) => e.type === 'button' && !e.down && e.button === 2, { from });
    const keys = await keyEvents(from, SHIFT_L);
    const pressed = keys.filter((e) => e.down).map((e) => e.keycode);
    const released = keys.filter((e) => !e.down).map((e) => e.keycode);
    expect(pressed).toHaveLength(2);
    expect(released.sort()).toEqual(pressed.sort());
    // nothing is held any more, so a release is not passed on
    expect(input.key(0x63, false)).toBe(false);
    expect(input.button(2, false)).toBe(false);
  });

  it('ignores input that makes no sense, without throwing', () => {
    for (const keysym of [Number.NaN, -1, 0, 1.5, 0x20000000, 0xffffff]) {
      expect(input.key(keysym, true)).toBe(false);
    }
    expect(input.key(0x64, false)).toBe(false);
    for (const n of [0, 10, 1.5, Number.NaN]) expect(input.button(n, true)).toBe(false);
    expect(input.moveAbsolute(Number.NaN, 0.5)).toBe(false);
    expect(input.moveRelative(Number.POSITIVE_INFINITY, 0)).toBe(false);
    expect(input.wheel(Number.NaN, 1)).toBe(false);
    expect(input.wheel(0, 0)).toBe(false);
  });

  it('follows layout changes another client makes', async () => {
    const [eAcute] = await tap(0xe9);
    const k = eAcute!.keycode;
    // another client takes the keycode we bound é to, and adds ß on one of its own
    const xmodmap = (expr: string) =>
      execFileSync('xmodmap', ['-e', expr], { env: { ...process.env, DISPLAY: server.display } });
    xmodmap(`keycode ${k} = x X`);
    xmodmap('keycode 255 = ssharp ssharp');
    // the MappingNotify comes before the reply, and sync() waits for the mapping re-read too
    await input.sync();
    try {
      const [again] = await tap(0xe9);
      expect(again!.keycode).not.toBe(k);
      const [sharpS] = await tap(0xdf);
      expect(sharpS).toMatchObject({ keycode: 255, keysym: 0xdf });
    } finally {
      xmodmap(`keycode ${k} =`);
      xmodmap('keycode 255 =');
    }
  });

  it('maps fractions onto the new size after a resize', async () => {
    const from = probe.events.length;
    await resizeDisplay(server.display, 1200, 800);
    await probe.waitFor((e) => e.type === 'resize' && e.width === 1200, { from });
    await input.sync();
    input.moveAbsolute(0.5, 0.5);
    await input.sync();
    expect(pointer()).toEqual({ x: 600, y: 400 });
  });
});
