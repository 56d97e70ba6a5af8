// Audio: a real PulseAudio server with a null sink, a tone played into it, the streamer
// capturing the sink's monitor as Opus, and Chromium receiving and playing it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '@floe/testbed';
import { buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioSource, loadStreamerConfig } from '../src/config.ts';
import { bareDesktop } from '../src/desktop.ts';
import { type SoundServer, startSoundServer } from '../src/sound-server.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';

describe('audio source detection', () => {
  const config = (env: Record<string, string>) => loadStreamerConfig({ DISPLAY: ':1', ...env });
  it('uses PULSE_SERVER, then the per-user socket, and nothing when off or absent', () => {
    expect(audioSource(config({ PULSE_SERVER: 'unix:/x/native' }), () => false)).toBe(
      'unix:/x/native',
    );
    expect(
      audioSource(config({ XDG_RUNTIME_DIR: '/run/user/7' }), (p) => p.startsWith('/run/user')),
    ).toBe('unix:/run/user/7/pulse/native');
    expect(audioSource(config({}), () => false)).toBeNull();
    expect(
      audioSource(config({ FLOE_STREAMER_AUDIO: 'off', PULSE_SERVER: 'x' }), () => true),
    ).toBeNull();
    expect(audioSource(config({ FLOE_STREAMER_AUDIO: 'on' }), () => false)).toBe('');
  });
});

describe('audio from PulseAudio', () => {
  let dir: string;
  let sound: SoundServer;
  let tone: ChildProcess;
  let streamer: Streamer;
  let browser: Browser;

  beforeAll(async () => {
    dir = mkdtempSync(join('/tmp', 'floe-pulse-'));
    const started = await startSoundServer(dir);
    if (!started) throw new Error('PulseAudio did not start');
    sound = started;
    const env = { ...process.env, PULSE_SERVER: sound.server };
    // A 440 Hz tone into the sink, for as long as the test runs.
    tone = spawn(
      'pacat',
      ['--raw', '--format=s16le', '--rate=48000', '--channels=1', `--device=${sound.sink}`],
      { env, stdio: ['pipe', 'ignore', 'ignore'] },
    );
    const second = Buffer.alloc(48_000 * 2);
    for (let i = 0; i < 48_000; i++)
      second.writeInt16LE(Math.round(Math.sin((i * 2 * Math.PI * 440) / 48_000) * 12_000), i * 2);
    tone.stdin!.on('error', () => {});
    const feed = () => tone.stdin!.write(second, () => setTimeout(feed, 500));
    feed();

    const { dir: webDir } = await buildWeb({ outDir: join(dir, 'web') });
    const config = loadStreamerConfig({
      DISPLAY: ':0',
      FLOE_STREAMER_PORT: '0',
      FLOE_STREAMER_AUDIO: 'on',
      FLOE_STREAMER_FPS: '15',
      FLOE_STREAMER_WEB_DIR: webDir,
      PULSE_SERVER: sound.server,
    });
    streamer = await startStreamer(config, bareDesktop(640, 480), pino({ level: 'silent' }));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await streamer?.close();
    tone?.kill('SIGKILL');
    sound?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('arrives in the browser as Opus with sound in it', async () => {
    const page = await browser.newPage();
    await page.goto(streamer.url);
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
      timeout: 20_000,
    });
    await page.getByRole('button', { name: /unmute/i }).click();
    type AudioStats = { packets: number; energy: number; codec: string };
    const audio = () =>
      page.evaluate(async () => {
        type Entry = {
          type: string;
          kind?: string;
          packetsReceived: number;
          totalAudioEnergy?: number;
          codecId: string;
          mimeType?: string;
        };
        const { pc } = (window as unknown as { __floe: { pc: RTCPeerConnection } }).__floe;
        const stats = (await pc.getStats()) as unknown as Map<string, Entry>;
        for (const s of stats.values()) {
          if (s.type !== 'inbound-rtp' || s.kind !== 'audio') continue;
          const codec = stats.get(s.codecId)?.mimeType ?? '';
          return { packets: s.packetsReceived, energy: s.totalAudioEnergy ?? 0, codec };
        }
        return null;
      }) as Promise<AudioStats | null>;
    // 10 ms Opus frames: 100 packets a second once the tone flows
    await expect
      .poll(async () => (await audio())?.packets ?? 0, { timeout: 20_000 })
      .toBeGreaterThan(100);
    const received = await audio();
    expect(received?.codec).toBe('audio/opus');
    expect(received?.energy).toBeGreaterThan(0);
  });
});
