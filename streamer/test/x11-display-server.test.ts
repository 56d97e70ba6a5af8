// The X servers the streamer starts: Xorg + dummy (resizable) and the Xvfb fallback, real
// servers checked with xdpyinfo; stop() must leave no process, socket or lock behind.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '@floe/testbed';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { resizeDisplay } from '../src/x11/resize.ts';

const work = mkdtempSync(join(tmpdir(), 'floe-x11-server-'));
const servers: DisplayServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function start(opts: Partial<Parameters<typeof startDisplayServer>[0]> = {}) {
  const server = await startDisplayServer({ width: 800, height: 600, workDir: work, ...opts });
  servers.push(server);
  return server;
}

function dimensions(display: string): string {
  const info = execFileSync('xdpyinfo', { env: { ...process.env, DISPLAY: display } }).toString();
  return /dimensions:\s+(\d+x\d+)/.exec(info)?.[1] ?? '';
}

function displayNumber(server: DisplayServer): number {
  return Number(server.display.slice(1));
}

/** Asserts the server is gone with everything it left on disk. */
function expectGone(server: DisplayServer) {
  const n = displayNumber(server);
  expect(isAlive(server.pid)).toBe(false);
  expect(existsSync(`/tmp/.X11-unix/X${n}`)).toBe(false);
  expect(existsSync(`/tmp/.X${n}-lock`)).toBe(false);
  expect(readdirSync(work)).toEqual([]);
}

describe('startDisplayServer', () => {
  it('runs Xorg with the dummy driver at the asked size, resizable', async () => {
    const server = await start({ width: 800, height: 600 });
    expect(server).toMatchObject({ kind: 'xorg', resizable: true, width: 800, height: 600 });
    expect(displayNumber(server)).toBeGreaterThanOrEqual(100);
    expect(dimensions(server.display)).toBe('800x600');
    expect(existsSync(`/tmp/.X11-unix/X${displayNumber(server)}`)).toBe(true);

    await server.stop();
    expectGone(server);
  });

  it('falls back to Xvfb, which cannot grow past its start size', async () => {
    const server = await start({ prefer: 'xvfb', width: 640, height: 480 });
    expect(server).toMatchObject({ kind: 'xvfb', resizable: false, width: 640, height: 480 });
    expect(dimensions(server.display)).toBe('640x480');
    await expect(resizeDisplay(server.display, 1280, 720)).rejects.toThrow(
      /to 1280x720: the server's screen is at most 640x480 \(Xvfb cannot grow/,
    );
    expect(dimensions(server.display)).toBe('640x480');
    // smaller is fine: RandR on one connection, and the server (-noreset) keeps it
    await expect(resizeDisplay(server.display, 400, 300)).resolves.toEqual({
      width: 400,
      height: 300,
    });
    expect(dimensions(server.display)).toBe('400x300');

    await server.stop();
    expectGone(server);
  });

  it('gives servers started at the same moment different displays', async () => {
    const started = await Promise.all([
      start(),
      start(),
      start({ prefer: 'xvfb' }),
      start({ prefer: 'xvfb' }),
    ]);
    const displays = started.map((s) => s.display);
    expect(new Set(displays).size).toBe(displays.length);
    for (const server of started) expect(dimensions(server.display)).toBe('800x600');
  });

  it('rounds the size to even numbers within the limits', async () => {
    const server = await start({ width: 1001, height: 99 });
    expect([server.width, server.height]).toEqual([1002, 240]);
    expect(dimensions(server.display)).toBe('1002x240');
  });

  it('says why when no server comes up, Xorg first, then Xvfb', async () => {
    const said: string[] = [];
    const failed = start({ startTimeoutMs: 1, log: (m) => said.push(m) });
    await expect(failed).rejects.toThrow(/xvfb did not accept clients on :\d+ within 1 ms; log:/);
    expect(said).toEqual([expect.stringMatching(/^Xorg failed to start, using Xvfb/)]);
    expect(readdirSync(work)).toEqual([]);
  });

  it('can stay in our process group, and still stops', async () => {
    const server = await start({ detached: false });
    const stat = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
    const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    const ours = readFileSync('/proc/self/stat', 'utf8');
    expect(pgrp).toBe(Number(ours.slice(ours.lastIndexOf(')') + 2).split(' ')[2]));

    await server.stop();
    expectGone(server);
  });
});
