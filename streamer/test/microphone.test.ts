// The viewer's microphone: Chromium's fake capture device (a beep) sent by the stream page,
// received by the streamer, decoded into the session's PulseAudio, and recorded there from the
// default source with pacat, as any app would record its microphone. Off until the viewer
// turns it on: the session records silence before.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '@floe/testbed';
import { buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadStreamerConfig } from '../src/config.ts';
import { bareDesktop } from '../src/desktop.ts';
import { MICROPHONE_SOURCE, type SoundServer, startSoundServer } from '../src/sound-server.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';

let dir: string;
let sound: SoundServer;
let streamer: Streamer;
let browser: Browser;
let page: Page;
const logLines: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join('/tmp', 'floe-mic-'));
  const started = await startSoundServer(dir);
  if (!started) throw new Error('PulseAudio did not start');
  sound = started;
  const { dir: webDir } = await buildWeb({ outDir: join(dir, 'web') });
  const config = loadStreamerConfig({
    DISPLAY: ':0',
    FLOE_STREAMER_PORT: '0',
    FLOE_STREAMER_AUDIO: 'on',
    FLOE_STREAMER_FPS: '15',
    FLOE_STREAMER_WEB_DIR: webDir,
    PULSE_SERVER: sound.server,
  });
  const log = pino({ level: 'info' }, { write: (line: string) => logLines.push(line.trim()) });
  streamer = await startStreamer(config, bareDesktop(640, 480), log);
  // a fake microphone that beeps, and no permission prompt
  browser = await launchChromium([
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
  ]);
  const context = await browser.newContext({ permissions: ['microphone'] });
  page = await context.newPage();
  await page.goto(streamer.url);
  await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
    timeout: 20_000,
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await streamer?.close();
  sound?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    process.stderr.write(`--- streamer log ---\n${logLines.join('\n')}\n`);
  }
});

/** Records `ms` of the session's default source; the loudest sample and the RMS. */
function record(ms: number): Promise<{ seconds: number; peak: number; rms: number }> {
  return new Promise((resolve, reject) => {
    const pacat = spawn(
      'pacat',
      ['--record', '--latency-msec=20', '--raw', '--format=s16le', '--rate=48000', '--channels=1'],
      { env: { ...process.env, PULSE_SERVER: sound.server }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const chunks: Buffer[] = [];
    pacat.stdout.on('data', (c: Buffer) => chunks.push(c));
    pacat.once('error', reject);
    setTimeout(() => pacat.kill('SIGTERM'), ms);
    pacat.once('exit', () => {
      const pcm = Buffer.concat(chunks);
      let peak = 0;
      let sum = 0;
      const n = Math.floor(pcm.length / 2);
      for (let i = 0; i < n; i++) {
        const v = pcm.readInt16LE(i * 2);
        peak = Math.max(peak, Math.abs(v));
        sum += v * v;
      }
      resolve({ seconds: n / 48_000, peak, rms: n ? Math.sqrt(sum / n) : 0 });
    });
  });
}

describe('the viewer microphone', () => {
  it('is the session default source, silent until the viewer turns it on, then carries the sound', async () => {
    const env = { ...process.env, PULSE_SERVER: sound.server };
    const info = await new Promise<string>((resolve, reject) => {
      const pactl = spawn('pactl', ['info'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      pactl.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      pactl.once('error', reject);
      pactl.once('exit', () => resolve(out));
    });
    expect(info).toMatch(new RegExp(`^Default Source: ${MICROPHONE_SOURCE}$`, 'm'));
    expect(info).toMatch(/^Default Sink: floe$/m);

    // An idle null sink renders in large blocks, so a short recording may get little of it.
    const off = await record(2500);
    expect(off.seconds).toBeGreaterThan(0.1);
    expect(off.peak).toBe(0);

    await page.click('#microphone');
    // on once the browser gave the track (getUserMedia is asynchronous)
    await expect.poll(() => page.getAttribute('#microphone', 'aria-pressed')).toBe('true');
    await expect
      .poll(async () => (await record(1500)).peak, { timeout: 20_000, interval: 0 })
      .toBeGreaterThan(1000);

    // off again: silence again
    await page.click('#microphone');
    expect(await page.getAttribute('#microphone', 'aria-pressed')).toBe('false');
    await expect
      .poll(async () => (await record(1000)).peak, { timeout: 10_000, interval: 0 })
      .toBeLessThan(50);
  }, 60_000);
});
