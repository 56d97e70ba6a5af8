// The latency probe injected into another streamer's page (src/peer-probe, the latency
// benchmark's Selkies cases), in real Chromium: it reads the barcode from a <video> the page
// makes after loading, with the stream page's decoder, and holds the page's peer connections
// to TURN relay when told to.
import { launchChromium } from '@floe/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPeerProbe } from '../build.ts';
// its window.__floeProbe and __floeProbeConfig, for the page's side
import type {} from '../src/peer-probe/main.ts';

// A stand-in for a peer's page: a <video> made after load, showing a canvas that paints the
// probe's barcode (streamer/src/barcode.ts: a white marker, 44 bits of Date.now(), a black
// marker, 20×16 px cells) every animation frame, and one RTCPeerConnection.
const PAGE = `<!doctype html><body><script>
addEventListener('load', () => {
  const canvas = Object.assign(document.createElement('canvas'), { width: 960, height: 32 });
  const ctx = canvas.getContext('2d');
  const paint = () => {
    const t = Date.now();
    const cells = [true];
    for (let i = 43; i >= 0; i--) cells.push(Math.floor(t / 2 ** i) % 2 === 1);
    cells.push(false);
    cells.forEach((white, i) => { ctx.fillStyle = white ? '#fff' : '#000'; ctx.fillRect(i * 20, 0, 20, 16); });
    requestAnimationFrame(paint);
  };
  paint();
  const video = Object.assign(document.createElement('video'), { muted: true, autoplay: true });
  video.srcObject = canvas.captureStream(60);
  document.body.append(video);
  window.policy = new RTCPeerConnection({ iceServers: [] }).getConfiguration().iceTransportPolicy;
});
</script></body>`;

let browser: Awaited<ReturnType<typeof launchChromium>>;
let probeScript: string;

beforeAll(async () => {
  [browser, probeScript] = await Promise.all([launchChromium(), buildPeerProbe()]);
});

afterAll(async () => {
  await browser?.close();
});

async function openPeerPage(relay: boolean) {
  const page = await browser.newPage();
  await page.route('http://peer.test/', (route) =>
    route.fulfill({ contentType: 'text/html', body: PAGE }),
  );
  await page.addInitScript((r) => {
    window.__floeProbeConfig = { relay: r };
  }, relay);
  await page.addInitScript({ content: probeScript });
  await page.goto('http://peer.test/');
  return page;
}

describe('the peer probe', () => {
  // generous: with other browser tests beside it on a loaded 2-core machine, headless
  // Chromium's frames come slowly (20 in 20 s was once not reached)
  it('reads the barcode of every frame of a <video> the page makes later', {
    timeout: 60_000,
  }, async () => {
    const page = await openPeerPage(false);
    try {
      await page.evaluate(() => {
        window.__floeProbe.collectLatency = true;
      });
      await page.waitForFunction(() => window.__floeProbe.latencies.length >= 10, null, {
        timeout: 45_000,
      });
      const latencies = await page.evaluate(() => window.__floeProbe.latencies);
      // painted and shown by one browser: from 0 to a few frames, never a misread time
      for (const ms of latencies) {
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThan(1000);
      }
      expect(await page.evaluate(() => (window as unknown as { policy: string }).policy)).toBe(
        'all',
      );
    } finally {
      await page.close();
    }
  });

  it('holds the page’s peer connections to TURN relay when told to', async () => {
    const page = await openPeerPage(true);
    try {
      await page.waitForFunction(() => 'policy' in window);
      expect(await page.evaluate(() => (window as unknown as { policy: string }).policy)).toBe(
        'relay',
      );
    } finally {
      await page.close();
    }
  });

  it('collects nothing until asked', async () => {
    const page = await openPeerPage(false);
    try {
      await page.waitForTimeout(500);
      expect(await page.evaluate(() => window.__floeProbe.latencies.length)).toBe(0);
    } finally {
      await page.close();
    }
  });
});
