/**
 * File transfer throughput: headless Chromium uploads a file of random bytes through the
 * stream page's file panel into a real streamer's home, and downloads it back, on loopback.
 * The peer, in the same run: the same bytes over a data channel between two peer
 * connections inside Chromium (the browser's own SCTP at both ends), so the ratio shows what
 * the streamer's side (werift's SCTP, the disk) costs.
 *
 *   node streamer/bench/files.ts [--mib 64]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '@floe/testbed';
import { buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import { loadStreamerConfig } from '../src/config.ts';
import { bareDesktop } from '../src/desktop.ts';
import { startStreamer } from '../src/streamer.ts';

const HELP = `File transfer throughput through the stream page and a real streamer, beside the
browser's own data channel (see docs/benchmarks.md).

  --mib N   size of the file uploaded and downloaded, MiB (64)
  --help    this text
`;

const { values } = parseArgs({
  options: { mib: { type: 'string', default: '64' }, help: { type: 'boolean' } },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const mib = Number(values.mib);
const bytes = mib * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'floe-bench-files-'));
const home = join(dir, 'home');
mkdirSync(join(home, 'Downloads'), { recursive: true });
const { dir: webDir } = await buildWeb({ outDir: join(dir, 'web') });
const streamer = await startStreamer(
  loadStreamerConfig({
    DISPLAY: ':0',
    FLOE_STREAMER_PORT: '0',
    FLOE_STREAMER_FPS: '10',
    FLOE_STREAMER_AUDIO: 'off',
    FLOE_STREAMER_WEB_DIR: webDir,
    FLOE_STREAMER_HOME: home,
  }),
  bareDesktop(640, 360),
  pino({ level: 'silent' }),
);
const browser = await launchChromium();
try {
  const file = join(dir, 'payload.bin');
  writeFileSync(file, randomBytes(bytes));
  writeFileSync(join(home, 'Downloads', 'payload.bin'), randomBytes(bytes));
  const page = await browser.newPage({ acceptDownloads: true });
  await page.goto(streamer.url);
  await page.waitForFunction(() => document.body.dataset.state === 'streaming');
  await page.getByRole('button', { name: 'Files panel' }).click();

  let start = performance.now();
  await page.locator('#files-input').setInputFiles(file);
  await page.waitForSelector('#files-transfers li[data-status="done"]', { timeout: 600_000 });
  const upload = (performance.now() - start) / 1000;
  if (statSync(join(home, 'Uploads', 'payload.bin')).size !== bytes)
    throw new Error('short upload');

  start = performance.now();
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 600_000 }),
    page.getByRole('button', { name: 'Download payload.bin' }).click(),
  ]);
  await download.path();
  const down = (performance.now() - start) / 1000;

  // the peer: Chromium to Chromium over one data channel, 16 KiB messages, same flow control
  const peer = await page.evaluate(async (total) => {
    const a = new RTCPeerConnection();
    const b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
    const channel = a.createDataChannel('bench', { ordered: true });
    let received = 0;
    const done = new Promise<void>((resolve) => {
      b.ondatachannel = (e) => {
        e.channel.onmessage = (m) => {
          received += (m.data as ArrayBuffer).byteLength;
          if (received >= total) resolve();
        };
      };
    });
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription!);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription!);
    await new Promise((resolve) => {
      channel.onopen = resolve;
    });
    channel.bufferedAmountLowThreshold = 256 * 1024;
    const chunk = new Uint8Array(16 * 1024 + 12);
    const start = performance.now();
    for (let sent = 0; sent < total; sent += 16 * 1024) {
      channel.send(chunk);
      if (channel.bufferedAmount > 1024 * 1024) {
        await new Promise((resolve) => {
          channel.onbufferedamountlow = resolve;
        });
      }
    }
    await done;
    return (performance.now() - start) / 1000;
  }, bytes);

  const rate = (s: number) => `${(mib / s).toFixed(1)} MiB/s`;
  console.log(`file transfer, ${mib} MiB, loopback, one Chromium viewer`);
  console.log(`  upload   (page → streamer home)     ${upload.toFixed(1)} s  ${rate(upload)}`);
  console.log(`  download (streamer home → page)     ${down.toFixed(1)} s  ${rate(down)}`);
  console.log(`  peer: Chromium → Chromium channel   ${peer.toFixed(1)} s  ${rate(peer)}`);
  console.log(
    `  ratio upload/peer ${(peer / upload).toFixed(2)}, download/peer ${(peer / down).toFixed(2)}`,
  );
} finally {
  await browser.close();
  await streamer.close();
  rmSync(dir, { recursive: true, force: true });
}
