import { describe, expect, it } from 'vitest';
import { preferredCodecs } from '../src/stream/codecs.ts';

const capabilities = [
  { mimeType: 'video/VP8', clockRate: 90000 },
  { mimeType: 'video/rtx', clockRate: 90000 },
  { mimeType: 'video/H264', clockRate: 90000, sdpFmtpLine: 'profile-level-id=42001f' },
  { mimeType: 'video/H264', clockRate: 90000, sdpFmtpLine: 'profile-level-id=42e01f' },
  { mimeType: 'video/VP9', clockRate: 90000 },
  { mimeType: 'video/red', clockRate: 90000 },
  { mimeType: 'video/ulpfec', clockRate: 90000 },
];

describe('preferredCodecs', () => {
  it('offers only the preferred codec, every profile, plus retransmission and FEC', () => {
    expect(preferredCodecs(capabilities, 'H264')?.map((c) => c.mimeType)).toEqual([
      'video/H264',
      'video/H264',
      'video/rtx',
      'video/red',
      'video/ulpfec',
    ]);
    expect(preferredCodecs(capabilities, 'VP8')?.[0]?.mimeType).toBe('video/VP8');
  });

  it('offers everything when the browser cannot decode the codec', () => {
    expect(preferredCodecs([{ mimeType: 'video/VP8' }], 'H264')).toBeNull();
  });
});
