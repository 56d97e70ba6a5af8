// Resizing a real Xorg (dummy driver) with RandR: xdpyinfo and xrandr read the result, and the
// probe app, an ordinary X client, must see the new size.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProbeProcess, startProbeProcess } from '../probe/probe-process.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { normalizeSize, resizeDisplay } from '../src/x11/resize.ts';

let work: string;
let server: DisplayServer;
let probe: ProbeProcess;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'floe-x11-resize-'));
  server = await startDisplayServer({ width: 800, height: 600, workDir: work });
  probe = await startProbeProcess({ display: server.display, fps: 30 });
});

afterAll(async () => {
  await probe?.stop();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

function x(tool: string, ...args: string[]): string {
  // spawns: xdpyinfo xrandr
  return execFileSync(tool, args, { env: { ...process.env, DISPLAY: server.display } }).toString();
}

const dimensions = () => /dimensions:\s+(\d+x\d+)/.exec(x('xdpyinfo'))?.[1];

/** Resizes and waits until the probe app was told. */
async function resize(width: number, height: number) {
  const from = probe.events.length;
  const size = await resizeDisplay(server.display, width, height);
  await probe.waitFor((e) => e.type === 'resize' && e.width === size.width, { from });
  return size;
}

describe('resizeDisplay', () => {
  it('resizes to 1000x700, then 1920x1080, and apps see it', async () => {
    expect(await resize(1000, 700)).toEqual({ width: 1000, height: 700 });
    expect(dimensions()).toBe('1000x700');
    expect(probe.events.at(-1)).toEqual({ type: 'resize', width: 1000, height: 700 });

    expect(await resize(1920, 1080)).toEqual({ width: 1920, height: 1080 });
    expect(dimensions()).toBe('1920x1080');
    expect(probe.events.at(-1)).toEqual({ type: 'resize', width: 1920, height: 1080 });
  });

  it('rounds to even sizes and keeps within 320x240..7680x4320', async () => {
    expect(await resize(1001, 99_999)).toEqual({ width: 1002, height: 4320 });
    expect(dimensions()).toBe('1002x4320');
    expect(await resize(7680, 4320)).toEqual({ width: 7680, height: 4320 });
    expect(await resize(10, 10)).toEqual({ width: 320, height: 240 });
    expect(dimensions()).toBe('320x240');
    expect(normalizeSize(Number.NaN, 641)).toEqual({ width: 320, height: 642 });
  });

  it('is a no-op at the current size', async () => {
    await resize(1280, 720);
    expect(await resizeDisplay(server.display, 1280, 720)).toEqual({ width: 1280, height: 720 });
    expect(dimensions()).toBe('1280x720');
  });

  it('leaves no pile of modes behind', async () => {
    for (const [w, h] of [
      [900, 600],
      [901, 601],
      [1100, 750],
    ] as const) {
      await resize(w, h);
    }
    const ours = x('xrandr').match(/\d+x\d+_floe/g) ?? [];
    expect(ours).toEqual(['1100x750_floe']);
  });

  it('fails clearly for a display that does not exist', async () => {
    await expect(resizeDisplay(':4999', 800, 600)).rejects.toThrow(/:4999/);
  });
});
