import { describe, expect, it } from 'vitest';
import { preferredCodecs } from '../src/stream/codecs.ts';

// As Chromium's RTCRtpReceiver.getCapabilities('video') lists them, trimmed.
const capabilities = [
  { mimeType: 'video/VP8', clockRate: 90000 },
  { mimeType: 'video/rtx', clockRate: 90000 },
  { mimeType: 'video/VP9', clockRate: 90000, sdpFmtpLine: 'profile-id=0' },
  { mimeType: 'video/VP9', clockRate: 90000, sdpFmtpLine: 'profile-id=2' },
  { mimeType: 'video/VP9', clockRate: 90000, sdpFmtpLine: 'profile-id=1' },
  ...['42001f', '42e01f', '4d001f', 'f4001f'].flatMap((id) =>
    [1, 0].map((mode) => ({
      mimeType: 'video/H264',
      clockRate: 90000,
      sdpFmtpLine: `level-asymmetry-allowed=1;packetization-mode=${mode};profile-level-id=${id}`,
    })),
  ),
  { mimeType: 'video/red', clockRate: 90000 },
  { mimeType: 'video/ulpfec', clockRate: 90000 },
];
const profiles = (codecs: typeof capabilities | null) =>
  codecs?.map((c) => `${c.mimeType} ${c.sdpFmtpLine ?? ''}`.trim());

describe('preferredCodecs', () => {
  it('offers only the profiles the streamer sends as that codec, plus retransmission and FEC', () => {
    expect(profiles(preferredCodecs(capabilities, 'H264'))).toEqual([
      'video/H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
      'video/H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      'video/H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f',
      'video/rtx',
      'video/red',
      'video/ulpfec',
    ]);
    expect(preferredCodecs(capabilities, 'VP8')?.[0]?.mimeType).toBe('video/VP8');
  });

  it('offers the 4:4:4 profile alone for a full-colour codec', () => {
    expect(profiles(preferredCodecs(capabilities, 'H264-444'))?.slice(0, 2)).toEqual([
      'video/H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f',
      'video/rtx',
    ]);
    expect(profiles(preferredCodecs(capabilities, 'VP9-444'))?.[0]).toBe('video/VP9 profile-id=1');
    expect(profiles(preferredCodecs(capabilities, 'VP9'))?.[0]).toBe('video/VP9 profile-id=0');
  });

  it('offers everything when the browser cannot decode the codec', () => {
    expect(preferredCodecs([{ mimeType: 'video/VP8' }], 'H264')).toBeNull();
    expect(preferredCodecs(capabilities.slice(0, 4), 'VP9-444')).toBeNull();
  });
});
