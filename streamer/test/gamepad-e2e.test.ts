/**
 * Gamepads end to end: a session started as the local cluster starts one (session-runner.ts,
 * its app in the bubblewrap sandbox, no privilege and no /dev/uinput), whose app is the real
 * reader `jstest --event /dev/input/js0` under the gamepad interposer; the built stream page in
 * headless Chromium with a stand-in gamepad (headless Chromium has no pad hardware: an init
 * script answers navigator.getGamepads with an object the test moves, and fires
 * gamepadconnected). What jstest prints is what the app read; a Python program beside it
 * rumbles the pad through evdev, played on the stand-in's vibrationActuator. A view-only viewer's page, made
 * to send its pad anyway, is refused by the streamer (roles.ts): the app reads nothing of it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '@floe/testbed';
// the type of inject('testbed')
import type {} from '@floe/testbed/vitest-setup';
import { buildWeb } from '@floe/web/build';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { VIEWER_TOKEN_TYPE, type ViewerRole, viewerAudience } from '../src/viewer-token.ts';

const RUNNER = fileURLToPath(new URL('../src/session-runner.ts', import.meta.url));
const SESSION = 'e2e-gamepad';
const ISSUER = 'https://gateway.floe.test';

const testbed = inject('testbed');
let work: string;
let runner: ChildProcess;
let endpoint: string;
let browser: Browser;
/** the runner's stdout: its log and, inherited, the app's (jstest's) lines */
const out: string[] = [];
const pageErrors: string[] = [];
let sign: (role: ViewerRole, sub: string) => Promise<string>;

/**
 * A second program of the session's app, beside jstest: rumbles pad 0 through evdev as a game
 * does (EVIOCSFF uploads a rumble effect, an EV_FF write plays it), twice a second.
 */
const RUMBLE_APP = `
import fcntl, os, struct, time
IOC = lambda d, t, nr, size: (d << 30) | (size << 16) | (ord(t) << 8) | nr
ev = os.open('/dev/input/event0', os.O_RDWR)
effect = bytearray(struct.pack('<HhHHHHH2xHH28x', 0x50, -1, 0, 0, 0, 250, 0, 65535, 16384))
fcntl.ioctl(ev, IOC(1, 'E', 0x80, 48), effect)
fid = struct.unpack_from('<h', effect, 2)[0]
while True:
    os.write(ev, struct.pack('<qqHHi', 0, 0, 0x15, fid, 1))
    time.sleep(0.5)
`;

import { type PadWindow, STAND_IN_GAMEPAD } from './stand-in-gamepad.ts';

beforeAll(async () => {
  work = mkdtempSync(join(testbed.tempRoot, 'e2e-gamepad-'));
  const { dir: webDir } = await buildWeb({ outDir: join(work, 'web') });
  // the gateway's key: viewer tokens for an owner and a view-only viewer
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  writeFileSync(join(work, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  sign = (role, sub) =>
    new SignJWT({ role, name: `${sub}@floe.test` })
      .setProtectedHeader({ alg: 'ES256', typ: VIEWER_TOKEN_TYPE, kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(viewerAudience(SESSION))
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
  const home = join(work, 'home');
  mkdirSync(home);
  chmodSync(home, 0o777);
  writeFileSync(join(home, 'rumble.py'), RUMBLE_APP);
  // spawns: node (this very Node, running the session runner as the local cluster does)
  runner = spawn(
    process.execPath,
    [
      RUNNER,
      `--sandbox-home=${home}`,
      '--window-manager=none',
      '--',
      'sh',
      '-c',
      'python3 rumble.py & exec jstest --event /dev/input/js0',
    ],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        FLOE_SESSION_ID: SESSION,
        FLOE_STREAMER_WEB_DIR: webDir,
        FLOE_STREAMER_FPS: '15',
        FLOE_STREAMER_AUDIO: 'off',
        FLOE_VIEWER_ISSUER: ISSUER,
        FLOE_VIEWER_JWKS_FILE: join(work, 'jwks.json'),
        FLOE_READY_FD: '3',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    },
  );
  createInterface({ input: runner.stdout! }).on('line', (line) => out.push(line));
  createInterface({ input: runner.stderr! }).on('line', (line) => out.push(line));
  endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the session did not start:\n${out.join('\n')}`)),
      60_000,
    );
    createInterface({ input: runner.stdio[3] as NodeJS.ReadableStream }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line).endpoint);
    });
    runner.once('exit', (code) =>
      reject(new Error(`the session exited (${code}):\n${out.join('\n')}`)),
    );
  });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (runner && runner.exitCode === null) {
    runner.kill('SIGTERM');
    await new Promise((resolve) => runner.once('exit', resolve));
  }
  if (work) rmSync(work, { recursive: true, force: true });
}, 30_000);

afterEach((ctx) => {
  if (ctx.task.result?.state !== 'fail') return;
  process.stderr.write(
    `--- session ---\n${out.join('\n')}\n--- page errors ---\n${pageErrors.join('\n')}\n`,
  );
});

/** A page of the stream as `role`, with the stand-in gamepad, streaming. */
async function viewer(role: ViewerRole, sub: string): Promise<Page> {
  const context = await browser.newContext({
    extraHTTPHeaders: { authorization: `Bearer ${await sign(role, sub)}` },
  });
  await context.addInitScript(STAND_IN_GAMEPAD);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(endpoint);
  await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
    timeout: 30_000,
  });
  return page;
}

/** jstest's "Event: type T, time …, number N, value V" lines, as [type, number, value]. */
const events = () =>
  out.flatMap((line) => {
    const m = /^Event: type (\d+), time \d+, number (\d+), value (-?\d+)$/.exec(line);
    return m ? [[Number(m[1]), Number(m[2]), Number(m[3])]] : [];
  });

async function seen(event: [number, number, number], what: string) {
  for (let waited = 0; waited < 15_000; waited += 50) {
    if (events().some((e) => e.join() === event.join())) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`jstest never read ${what} ${JSON.stringify(event)}`);
}

async function refusedInputs(): Promise<number> {
  const text = await (await fetch(new URL('metrics', endpoint))).text();
  const m = /floe_streamer_input_events_total\{type="refused"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('a gamepad in the browser', () => {
  it('is read by jstest in the sandboxed session: a button, a stick, a trigger; it rumbles', async () => {
    const page = await viewer('owner', 'owner-1');
    // jstest opened js0 and got the resting state (the trigger's rest is joydev's -32767)
    await seen([0x82, 5, -32767], 'the initial state');
    expect(out.join('\n')).toMatch(
      /Joystick \(Floe virtual gamepad \(Xbox 360 layout\)\) has 8 axes/,
    );
    await page.evaluate(() => {
      const pad = (window as unknown as PadWindow).__standInPad;
      pad.buttons[0] = { pressed: true, value: 1 };
    });
    await seen([1, 0, 1], 'A pressed');
    await page.evaluate(() => {
      const pad = (window as unknown as PadWindow).__standInPad;
      pad.axes[0] = -1;
      pad.buttons[7] = { pressed: true, value: 1 };
      pad.buttons[0] = { pressed: false, value: 0 };
    });
    await seen([2, 0, -32767], 'the left stick pushed left');
    await seen([2, 5, 32767], 'the right trigger pulled');
    await seen([1, 0, 0], 'A released');
    // and the app's rumble plays on the browser's pad
    await page.waitForFunction(
      () => (window as unknown as PadWindow).__standInRumble.length > 0,
      null,
      { timeout: 15_000 },
    );
    const rumble = await page.evaluate(() => (window as unknown as PadWindow).__standInRumble[0]);
    expect(rumble).toEqual({
      type: 'dual-rumble',
      duration: 250,
      strongMagnitude: 1,
      weakMagnitude: 16384 / 65535,
    });
    // the page goes away: the pad it held comes back to rest in the session
    await page.context().close();
    await seen([2, 0, 0], 'the stick at rest');
    await seen([2, 5, -32767], 'the trigger at rest');
  });

  it("refuses a view-only viewer's pad, even from a page that sends it", async () => {
    const owner = await viewer('owner', 'owner-2');
    const watcher = await viewer('viewer', 'watcher-1');
    // what else the view-only page sent on joining (its resize) is refused first: wait for quiet
    let before = await refusedInputs();
    for (let waited = 0; waited < 10_000; waited += 500) {
      await new Promise((r) => setTimeout(r, 500));
      const now = await refusedInputs();
      if (now === before) break;
      before = now;
    }
    const count = events().length;
    await watcher.evaluate(() => {
      // a page that ignores its role (viewers.ts sets this from the streamer's word, and sets
      // it again on every viewer-list update: keep it forced)
      document.body.dataset.control = 'true';
      new MutationObserver(() => {
        if (document.body.dataset.control !== 'true') document.body.dataset.control = 'true';
      }).observe(document.body, { attributes: true, attributeFilter: ['data-control'] });
      (window as unknown as PadWindow).__standInPad.buttons[3] = { pressed: true, value: 1 };
    });
    for (let waited = 0; (await refusedInputs()) === before; waited += 50) {
      if (waited > 15_000) throw new Error('the streamer never refused the pad');
      await new Promise((r) => setTimeout(r, 50));
    }
    // the owner's press comes after the refusal, and is all the app read
    await owner.evaluate(() => {
      (window as unknown as PadWindow).__standInPad.buttons[1] = { pressed: true, value: 1 };
    });
    await seen([1, 1, 1], "the owner's B");
    expect(events().slice(count)).toEqual([[1, 1, 1]]);
  });
});
