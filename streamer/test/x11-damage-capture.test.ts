// The damage-driven X capture (pipeline/floe_xcapture.py) on a real Xorg: frames come when the
// probe app draws, carry its barcode (decoded as the browser decodes it), and a static screen
// still gives frames at the idle rate. Its decisions (which rectangles to read, when to
// capture) are tables run in Python, the language they are written in.
import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMA_STRIP } from '../probe/probe-app.ts';
import { type ProbeProcess, startProbeProcess } from '../probe/probe-process.ts';
import { BARCODE_WIDTH, decodeBarcode } from '../src/barcode.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';

const run = promisify(execFile);
const PIPELINE_DIR = fileURLToPath(new URL('../pipeline/', import.meta.url));

/** Runs Python with floe_xcapture importable; the snippet prints one JSON value. */
async function python(code: string, args: string[] = []): Promise<unknown> {
  // spawns: python3
  const { stdout } = await run('/usr/bin/python3', ['-c', code, ...args], {
    cwd: PIPELINE_DIR,
    timeout: 20_000,
  });
  return JSON.parse(stdout);
}

describe('plan_reads: which rectangles a capture reads', () => {
  it.each([
    ['one small rectangle as it is', [[10, 20, 30, 40]], [[10, 20, 30, 40]]],
    ['clipped to the screen', [[-10, 90, 30, 40]], [[0, 90, 20, 10]]],
    ['none left when off the screen', [[200, 0, 10, 10]], []],
    ['the whole screen past half of it', [[0, 0, 100, 60]], [[0, 0, 100, 100]]],
    [
      'each of several',
      [
        [0, 0, 10, 10],
        [50, 50, 5, 5],
      ],
      [
        [0, 0, 10, 10],
        [50, 50, 5, 5],
      ],
    ],
  ])('%s', async (_name, rects, expected) => {
    const out = await python(
      'import json, sys, floe_xcapture as x; print(json.dumps(x.plan_reads(json.loads(sys.argv[1]), 100, 100)))',
      [JSON.stringify(rects)],
    );
    expect(out).toEqual(expected);
  });
});

describe('rects_to_copy: what a pooled frame buffer lacks', () => {
  const history = [
    [5, [[0, 0, 1, 1]]],
    [6, [[1, 1, 2, 2]]],
    [7, [[3, 3, 1, 1]]],
  ];
  it.each([
    ['a new buffer: the whole frame', null, null],
    ['one capture behind: the last reads', 6, [[3, 3, 1, 1]]],
    [
      'two behind: the reads of both',
      5,
      [
        [1, 1, 2, 2],
        [3, 3, 1, 1],
      ],
    ],
    ['up to date: nothing', 7, []],
    ['older than the history: the whole frame', 2, null],
  ])('%s', async (_name, held, expected) => {
    const out = await python(
      'import json, sys, floe_xcapture as x; print(json.dumps(x.rects_to_copy(json.loads(sys.argv[1]), json.loads(sys.argv[2]))))',
      [JSON.stringify(history), JSON.stringify(held)],
    );
    expect(out).toEqual(expected);
  });
});

describe('chroma_aligned: rectangles converted to I420 whole 2×2 blocks at a time', () => {
  it.each([
    ['even edges as they are', [[10, 20, 30, 40]], [[10, 20, 30, 40]]],
    ['odd edges grown outwards', [[11, 21, 3, 5]], [[10, 20, 4, 6]]],
    ['held to an odd screen edge', [[98, 96, 3, 3]], [[98, 96, 1, 4]]],
    ['a one-pixel rectangle: its block', [[7, 7, 1, 1]], [[6, 6, 2, 2]]],
  ])('%s', async (_name, rects, expected) => {
    const out = await python(
      'import json, sys, floe_xcapture as x; print(json.dumps(x.chroma_aligned(json.loads(sys.argv[1]), 99, 100)))',
      [JSON.stringify(rects)],
    );
    expect(out).toEqual(expected);
  });
});

describe('next_capture_at: when the next frame is captured', () => {
  // 60 fps: the cap 3 captures in 3 × 0.8/60 s (40 ms), idle repeat 1.5/60, settle 1 ms
  it.each([
    ['damage long after the last capture: once it settled', [9.95, 9.97, 10.0], 10.1, 10.101],
    // an app's late paint and the next on time: the second is not held for the first
    ['damage right after one, paced before: once it settled', [9.95, 9.967, 10.0], 10.005, 10.006],
    ['damage right after a burst: held to the frame-rate cap', [9.99, 9.995, 10.0], 10.002, 10.03],
    ['no damage: the idle repeat', [9.95, 9.97, 10.0], null, 10 + 1.5 / 60],
    ['the first frame: at once', [], null, 0],
  ])('%s', async (_name, captures, damagedAt, expected) => {
    const out = await python(
      `import json, collections, floe_xcapture as x; print(json.dumps(x.next_capture_at(collections.deque(${JSON.stringify(captures)}, maxlen=x.CAP_FRAMES), ${damagedAt ?? 'None'}, 1.5/60, 0.8/60, 0.001)))`,
    );
    expect(out).toBeCloseTo(expected, 6);
  });
});

describe('DamageCapture on a real X server', () => {
  let work: string;
  let server: DisplayServer;
  let probe: ProbeProcess | undefined;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'floe-damage-'));
    server = await startDisplayServer({ width: 1024, height: 768, workDir: work });
  });

  afterAll(async () => {
    await probe?.stop();
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  // Captures for `seconds`; reports the frames, how many were drawn on, and the last frame's
  // top-left barcode strip (16 rows of BARCODE_WIDTH BGRx pixels) with the time it was taken.
  const CAPTURE = `
import ctypes, json, sys, time, floe_xcapture as x
c = x.DamageCapture(sys.argv[1], 30)
frame = ctypes.create_string_buffer(c.size)
frames = drawn = 0
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    drawn += bool(c.next_frame(ctypes.addressof(frame)))
    frames += 1
taken = time.time() * 1000
w = int(sys.argv[3])
strip = b"".join(frame.raw[y * c.width * 4 : y * c.width * 4 + w * 4] for y in range(16))
print(json.dumps({"frames": frames, "drawn": drawn, "taken": taken, "size": [c.width, c.height], "strip": list(strip)}))
c.close()
`;
  type Captured = { frames: number; drawn: number; taken: number; size: number[]; strip: number[] };
  const capture = async (seconds: number) =>
    (await python(CAPTURE, [server.display, String(seconds), String(BARCODE_WIDTH)])) as Captured;

  it('captures what the app draws, as it draws it', async () => {
    probe = await startProbeProcess({ display: server.display, fps: 30 });
    const out = await capture(1.5);
    expect(out.size).toEqual([1024, 768]);
    // the app draws 30 times a second: nearly every frame is one it drew (a loaded machine
    // drops some)
    expect(out.drawn).toBeGreaterThan(15);
    const painted = decodeBarcode((px, py) => {
      const i = (Math.floor(py) * BARCODE_WIDTH + Math.floor(px)) * 4;
      return 0.299 * out.strip[i + 2]! + 0.587 * out.strip[i + 1]! + 0.114 * out.strip[i]!;
    });
    expect(painted).not.toBeNull();
    // painted shortly before it was captured (one clock: one machine)
    expect(out.taken - painted!).toBeGreaterThanOrEqual(0);
    expect(out.taken - painted!).toBeLessThan(2000);
    await probe.stop();
    probe = undefined;
  });

  // I420 or Y444 frames in three buffers taken in turn, as the pipeline's pool hands them out:
  // each gets only the rectangles drawn since it was last filled, converted with libyuv.
  const CAPTURE_YUV = `
import ctypes, json, sys, floe_xcapture as x
import floe_pipeline as fp
c = x.DamageCapture(sys.argv[1], 30)
fmt, (sx, sy) = sys.argv[3], json.loads(sys.argv[4])
layout = fp.yuv_layout(fmt, c.width, c.height)
assert c.output_yuv(layout)
buffers = [ctypes.create_string_buffer(c.frame_size) for _ in range(3)]
drawn = 0
for i in range(45):
    drawn += bool(c.next_frame(ctypes.addressof(buffers[i % 3])))
last = buffers[44 % 3]
whole = ctypes.create_string_buffer(c.frame_size)
c._copy(ctypes.addressof(whole), None)  # the last capture, converted whole
w, stride = int(sys.argv[2]), layout.strides[0]
luma = b"".join(last.raw[y * stride : y * stride + w] for y in range(16))
# the red (V) samples along the middle row of the probe's red and blue columns
shift = 1 if layout.subsampled else 0
row = layout.offsets[2] + ((sy + 8) >> shift) * layout.strides[2]
red = [last.raw[row + ((sx + i) >> shift)] for i in range(64)]
print(json.dumps({"drawn": drawn, "size": c.frame_size, "sameAsWhole": last.raw == whole.raw, "luma": list(luma), "red": red}))
c.close()
`;

  it.each([
    ['I420', 1.5],
    ['Y444', 3],
  ] as const)(
    'converts to %s only what was drawn, and the frames match a whole conversion',
    async (format, bytesAPixel) => {
      probe = await startProbeProcess({ display: server.display, fps: 30 });
      const strip = JSON.stringify([CHROMA_STRIP.x, CHROMA_STRIP.y]);
      const out = (await python(CAPTURE_YUV, [
        server.display,
        String(BARCODE_WIDTH),
        format,
        strip,
      ])) as {
        drawn: number;
        size: number;
        sameAsWhole: boolean;
        luma: number[];
        red: number[];
      };
      await probe.stop();
      probe = undefined;
      expect(out.size).toBe(1024 * 768 * bytesAPixel);
      expect(out.drawn).toBeGreaterThan(20);
      expect(out.sameAsWhole).toBe(true);
      // the barcode is in the Y plane, as the browser's decoder reads it
      const painted = decodeBarcode(
        (px, py) => out.luma[Math.floor(py) * BARCODE_WIDTH + Math.floor(px)]!,
      );
      expect(painted).not.toBeNull();
      // Y444 keeps a red sample for each pixel: high in the red columns (BT.601: 240), low in the
      // blue ones (110); I420 has one for each pair, the same for both
      const inner = out.red.slice(2, 62);
      const redness = inner.reduce((sum, v, i) => sum + (i % 2 === 0 ? v : -v), 0) / inner.length;
      if (format === 'Y444') expect(redness).toBeGreaterThan(50);
      else expect(Math.abs(redness)).toBeLessThan(5);
    },
  );

  it.each(['H264', 'H264-444'])(
    "says in %s that its colours are libyuv's BT.601, not the HD default",
    async (codec) => {
      // the damage source as the pipeline describes it, encoded, and read back by h264parse
      // from the stream's VUI, as the browser's decoder reads it
      const out = await python(
        [
          'import json, types',
          'import floe_pipeline as fp',
          'from gi.repository import Gst',
          'Gst.init(None)',
          `args = types.SimpleNamespace(source="x11", fps=30, threads=1, codec="${codec}")`,
          'caps = fp.source_description(args, (1280, 720), True).split(" caps=")[1]',
          'p = Gst.parse_launch(f"videotestsrc num-buffers=3 ! {caps} ! x264enc ! h264parse name=parse ! fakesink")',
          'p.set_state(Gst.State.PLAYING)',
          'p.get_bus().timed_pop_filtered(10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)',
          'caps = p.get_by_name("parse").get_static_pad("src").get_current_caps()',
          'print(json.dumps(caps.get_structure(0).get_string("colorimetry")))',
          'p.set_state(Gst.State.NULL)',
        ].join('\n'),
      );
      expect(out).toBe('bt601');
    },
  );

  it('repeats a static screen at the idle rate, drawn on by nobody', async () => {
    const out = await capture(1);
    // 30 fps: a repeat every 50 ms without damage, so about 20 in a second
    expect(out.frames).toBeGreaterThan(5);
    expect(out.frames).toBeLessThan(30);
    expect(out.drawn).toBeLessThanOrEqual(1); // the app's last paint, at most
  });

  it('skips a read off the screen (a resize under way), and gives up when reads fail for 3 s', async () => {
    const out = await python(
      [
        'import json, sys, floe_xcapture as x',
        'c = x.DamageCapture(sys.argv[1], 30)',
        'c._read(c.width - 10, 0, 20, 10)  # past the right edge: BadMatch',
        'skipped = c.failing_since is not None',
        'c.failing_since -= 4',
        'try:',
        '    c._read(c.width - 10, 0, 20, 10)',
        '    print(json.dumps([skipped, "no error"]))',
        'except x.CaptureError as e:',
        '    print(json.dumps([skipped, str(e)]))',
      ].join('\n'),
      [server.display],
    );
    expect(out).toEqual([true, expect.stringMatching(/^XShmGetImage failed .*for 3.0 s$/)]);
  });

  it('falls back to ximagesrc where the X server cannot map its memory (another IPC namespace)', async () => {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const packet = once(socket, 'message');
    // spawns: unshare (util-linux), running the pipeline in an IPC namespace of its own
    const child = spawn(
      'unshare',
      [
        '--ipc',
        '/usr/bin/python3',
        join(PIPELINE_DIR, 'floe_pipeline.py'),
        '--source=x11',
        `--display=${server.display}`,
        '--width=1024',
        '--height=768',
        '--fps=30',
        `--port=${socket.address().port}`,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      await packet; // RTP: frames flow
      expect(stderr).toContain(
        'damage capture unavailable, using ximagesrc: the X server could not attach shared memory',
      );
    } finally {
      child.kill();
      socket.close();
    }
  });

  it('refuses a display it cannot open, so the pipeline falls back to ximagesrc', async () => {
    const out = await python(
      'import json, floe_xcapture as x\ntry:\n    x.DamageCapture(":4242", 60)\n    print(json.dumps("opened"))\nexcept x.CaptureError as e:\n    print(json.dumps(str(e)))',
    );
    expect(out).toBe('cannot open display :4242');
  });
});
