import { describe, expect, it } from 'vitest';
import { SELKIES_ENCODERS, selkiesArgs } from '../bench/selkies.ts';

const base = {
  display: ':100',
  width: 1920,
  height: 1080,
  fps: 60,
  codec: 'H264' as const,
  mode: 'webrtc' as const,
};

describe('selkiesArgs: the latency benchmark peer runs with the settings of Floe’s case', () => {
  it.each([
    ['H264', 'h264enc'],
    ['VP8', 'vp8enc'],
    ['VP9', 'vp9enc'],
    ['AV1', 'av1enc'],
    ['H264-444', 'h264enc'],
    ['VP9-444', 'vp9enc'],
  ] as const)('%s encodes with %s', (codec, encoder) => {
    expect(SELKIES_ENCODERS[codec]).toBe(encoder);
    const args = selkiesArgs({ ...base, codec }, 8080);
    expect(args).toContain(`--encoder=${encoder}`);
    // 4:4:4 chroma for the full-colour codecs, 4:2:0 (its default) for the others
    expect(args).toContain(`--video-fullcolor=${codec.endsWith('-444')}`);
  });

  it('locks the frame rate and the display size, on loopback, without audio or login', () => {
    const args = selkiesArgs({ ...base, mode: 'websockets' }, 8123);
    expect(args.slice(0, 2)).toEqual(['-m', 'selkies']);
    for (const a of [
      '--mode=websockets',
      '--addr=127.0.0.1',
      '--port=8123',
      '--framerate=60-60',
      '--manual-resolution=true',
      '--manual-width=1920',
      '--manual-height=1080',
      '--enable-basic-auth=false',
      '--audio-enabled=false',
    ])
      expect(args).toContain(a);
    expect(args.some((a) => a.startsWith('--turn'))).toBe(false);
  });

  it('takes TURN (and STUN) from the same coturn, by its shared secret', () => {
    const args = selkiesArgs(
      { ...base, turn: { host: '127.0.0.1', port: 3478, secret: 's3cret' } },
      8080,
    );
    expect(args).toEqual(
      expect.arrayContaining([
        '--turn-host=127.0.0.1',
        '--turn-port=3478',
        '--turn-shared-secret=s3cret',
        '--stun-host=127.0.0.1',
        '--stun-port=3478',
      ]),
    );
  });

  it('passes extra arguments last, so they win', () => {
    expect(selkiesArgs({ ...base, extraArgs: ['--video-crf=30'] }, 1).at(-1)).toBe(
      '--video-crf=30',
    );
  });
});
