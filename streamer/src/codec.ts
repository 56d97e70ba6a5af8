import type { VideoCodec } from './protocol.ts';

/**
 * Whether an offered rtpmap entry is one our encoders' output can be sent as. The fmtp line
 * matters where one name covers streams we do not make:
 * - H.264 only with packetization-mode=1, the mode our payloader writes;
 * - VP9 only profile 0 (8-bit 4:2:0; profile-id absent means 0), what vp9enc makes of I420;
 * - AV1 only profile 0 (Main: 8/10-bit 4:2:0; `profile` absent means 0), what av1enc makes.
 */
export function offeredAs(name: string, fmtp: string): VideoCodec | null {
  const param = (key: string) => new RegExp(`(?:^|;)\\s*${key}=(\\w+)`).exec(fmtp)?.[1];
  switch (name.toUpperCase()) {
    case 'H264':
      return param('packetization-mode') === '1' ? 'H264' : null;
    case 'VP8':
      return 'VP8';
    case 'VP9':
      return (param('profile-id') ?? '0') === '0' ? 'VP9' : null;
    case 'AV1':
      return (param('profile') ?? '0') === '0' ? 'AV1' : null;
    default:
      return null;
  }
}

/** Which of our codecs the browser's offer can receive, read from its rtpmap and fmtp lines. */
export function offeredCodecs(sdp: string): Set<VideoCodec> {
  const found = new Set<VideoCodec>();
  const video = sdp.split(/^m=/m).find((section) => section.startsWith('video'));
  if (!video) return found;
  const fmtp = new Map<string, string>();
  for (const m of video.matchAll(/^a=fmtp:(\d+) (.*)$/gm)) fmtp.set(m[1]!, m[2]!.trim());
  for (const m of video.matchAll(/^a=rtpmap:(\d+) ([\w-]+)\/90000/gm)) {
    const codec = offeredAs(m[2]!, fmtp.get(m[1]!) ?? '');
    if (codec) found.add(codec);
  }
  return found;
}

/** The first codec of the streamer's preference that the browser offered, or null. */
export function chooseCodec(preference: readonly VideoCodec[], sdp: string): VideoCodec | null {
  const offered = offeredCodecs(sdp);
  return preference.find((codec) => offered.has(codec)) ?? null;
}
