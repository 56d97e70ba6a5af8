/**
 * Helpers for the end-to-end test of streaming (e2e.test.ts): X-side tools run as another X
 * client would (xclip, xdpyinfo), and what the test reads from the stream page in Chromium.
 *
 * X tools run asynchronously on purpose: the streamer's clipboard owner lives in this process,
 * so a synchronous xclip would wait for an answer that this blocked process never sends.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import type { Page } from 'playwright-core';
import { readChromaContrast } from '../probe/colour-detail.ts';
import { BLOCK } from '../probe/probe-app.ts';

/** What the page exposes as `window.__floe` (web/src/stream/main.ts), as far as tests read it. */
export interface FloeHandle {
  readonly state: string;
  readonly pc: RTCPeerConnection | null;
  collectLatency: boolean;
  latencies: number[];
}

/** The window of the stream page; bench/page-globals.ts declares `__floe` narrower, so cast. */
export type FloeWindow = Window & {
  __floe: FloeHandle;
  /** Filled by ICE_ERRORS_SCRIPT: every icecandidateerror of every peer connection. */
  __iceErrors: { errorCode: number; errorText: string; url: string }[];
};

/** Runs a command; resolves with its stdout, rejects with its stderr on failure. */
export function run(
  file: string,
  args: string[],
  display: string,
  timeoutMs = 5_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    // spawns: xdpyinfo xclip (what the callers below pass)
    execFile(
      file,
      args,
      { env: { ...process.env, DISPLAY: display }, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`${file} ${args.join(' ')}: ${err.message} ${stderr}`))
          : resolve(stdout),
    );
  });
}

/** The screen's size as any X client sees it. */
export async function xScreenSize(display: string): Promise<{ width: number; height: number }> {
  const out = await run('xdpyinfo', ['-display', display], display);
  const m = /dimensions:\s+(\d+)x(\d+) pixels/.exec(out);
  if (!m) throw new Error(`no dimensions in xdpyinfo's output:\n${out}`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** What another X app would paste from CLIPBOARD. */
export function xclipPaste(display: string): Promise<string> {
  return run('xclip', ['-selection', 'clipboard', '-o'], display);
}

/**
 * Another X app copies `text`: xclip owns CLIPBOARD until it is stopped or loses the
 * selection. Returns a stop function (idempotent, kills its process group).
 */
export function xclipCopy(display: string, text: string): () => Promise<void> {
  const xclip: ChildProcess = spawn('xclip', ['-selection', 'clipboard', '-i', '-quiet'], {
    env: { ...process.env, DISPLAY: display },
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  xclip.stdin!.end(text);
  const exited = new Promise<void>((resolve) => {
    if (xclip.exitCode !== null || xclip.signalCode !== null) resolve();
    else xclip.once('exit', () => resolve());
  });
  return async () => {
    if (xclip.exitCode === null && xclip.signalCode === null && xclip.pid !== undefined) {
      try {
        process.kill(-xclip.pid, 'SIGKILL');
      } catch {}
    }
    await exited;
  };
}

/**
 * Runs in the page before its own script: records the icecandidateerror events of every
 * RTCPeerConnection the page makes (a TURN server refusing a credential reports here).
 */
export const ICE_ERRORS_SCRIPT = `(() => {
  window.__iceErrors = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('icecandidateerror', (e) => {
        window.__iceErrors.push({ errorCode: e.errorCode, errorText: e.errorText, url: e.url });
      });
    }
  };
})();`;

export interface PathStats {
  /** The selected pair's local and remote candidate types, null before one is selected. */
  local: string | null;
  remote: string | null;
  /** Every local candidate gathered so far, by type. */
  localTypes: string[];
  iceGatheringState: string | null;
  connectionState: string | null;
}

/** The ICE path of the page's current peer connection, from getStats(). */
export function pathStats(page: Page): Promise<PathStats> {
  return page.evaluate(async () => {
    const pc = (window as unknown as FloeWindow).__floe.pc;
    if (!pc) {
      return {
        local: null,
        remote: null,
        localTypes: [],
        iceGatheringState: null,
        connectionState: null,
      };
    }
    const stats = [...(await pc.getStats()).values()] as Record<string, unknown>[];
    const byId = new Map(stats.map((s) => [s.id as string, s]));
    const transport = stats.find((s) => s.type === 'transport');
    const pair = byId.get(transport?.selectedCandidatePairId as string);
    const type = (id: unknown) => (byId.get(id as string)?.candidateType as string) ?? null;
    return {
      local: pair ? type(pair.localCandidateId) : null,
      remote: pair ? type(pair.remoteCandidateId) : null,
      localTypes: stats
        .filter((s) => s.type === 'local-candidate')
        .map((s) => s.candidateType as string),
      iceGatheringState: pc.iceGatheringState,
      connectionState: pc.connectionState,
    };
  });
}

export interface VideoStats {
  framesDecoded: number;
  codec: string | null;
  /** The codec's fmtp line as negotiated (its profile). */
  fmtp: string | null;
  videoWidth: number;
  videoHeight: number;
}

/** The inbound video of the page's current peer connection, and the <video>'s frame size. */
export function videoStats(page: Page): Promise<VideoStats> {
  return page.evaluate(async () => {
    const video = document.querySelector('video')!;
    const pc = (window as unknown as FloeWindow).__floe.pc;
    const stats = pc ? ([...(await pc.getStats()).values()] as Record<string, unknown>[]) : [];
    const inbound = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
    const codec = stats.find((s) => s.id === inbound?.codecId);
    return {
      framesDecoded: (inbound?.framesDecoded as number) ?? 0,
      codec: (codec?.mimeType as string) ?? null,
      fmtp: (codec?.sdpFmtpLine as string) ?? null,
      videoWidth: video.videoWidth,
      videoHeight: video.videoHeight,
    };
  });
}

export interface Picture {
  width: number;
  height: number;
  /** RGB of the pixel at the centre of the bottom quarter (the probe's background). */
  background: [number, number, number];
  /** Left edge of the probe's moving block (orange) along its middle row; -1 if not seen. */
  blockX: number;
  /**
   * How far the probe's red and blue pixel columns kept their colours apart (colour-detail.ts):
   * 255 when every pixel keeps its colour (4:4:4), near 0 when a pair shares one (4:2:0).
   */
  chromaContrast: number;
}

/**
 * Draws the current video frame into a canvas and reads what the probe app paints: its
 * background colour and where its moving block is. `key` keeps the frame in the page so a
 * later call can count the pixels that changed since (`changedSince`).
 */
export async function readPicture(
  page: Page,
  key: string,
  changedSince?: string,
): Promise<Picture & { changed: number | null }> {
  const picture = await page.evaluate(
    ({ key, changedSince, blockRow }) => {
      const video = document.querySelector('video')!;
      const width = video.videoWidth;
      const height = video.videoHeight;
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
      ctx.drawImage(video, 0, 0, width, height);
      const data = ctx.getImageData(0, 0, width, height).data;
      const store = window as unknown as Record<string, Uint8ClampedArray>;
      store[`__picture_${key}`] = data;
      const at = (x: number, y: number) => {
        const i = (y * width + x) * 4;
        return [data[i]!, data[i + 1]!, data[i + 2]!] as [number, number, number];
      };
      // orange 0xe0a020: red high, green middling, blue low
      const orange = ([r, g, b]: [number, number, number]) =>
        r > 180 && g > 120 && g < 200 && b < 90;
      let blockX = -1;
      for (let x = 0; x < width; x++) {
        if (orange(at(x, blockRow))) {
          blockX = x;
          break;
        }
      }
      let changed: number | null = null;
      const before = changedSince ? store[`__picture_${changedSince}`] : undefined;
      if (before && before.length === data.length) {
        changed = 0;
        for (let i = 0; i < data.length; i += 4) {
          const d =
            Math.abs(data[i]! - before[i]!) +
            Math.abs(data[i + 1]! - before[i + 1]!) +
            Math.abs(data[i + 2]! - before[i + 2]!);
          if (d > 48) changed++;
        }
      }
      return {
        width,
        height,
        background: at(Math.floor(width / 2), Math.floor((height * 7) / 8)),
        blockX,
        changed,
      };
    },
    { key, changedSince, blockRow: BLOCK.y + BLOCK.size / 2 },
  );
  return { ...picture, chromaContrast: await readChromaContrast(page) };
}

/** Undo steps run last-in first-out, every one even when some fail. */
export class Cleanup {
  #steps: { name: string; run: () => unknown }[] = [];
  add(name: string, run: () => unknown): void {
    this.#steps.push({ name, run });
  }
  async run(): Promise<string[]> {
    const failures: string[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step.run();
      } catch (err) {
        failures.push(`${step.name}: ${(err as Error).message}`);
      }
    }
    return failures;
  }
}
