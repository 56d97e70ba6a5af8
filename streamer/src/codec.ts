import type { VideoCodec } from './protocol.ts';

/** H.264's profile_idc of High 4:4:4 Predictive, the first byte of a profile-level-id. */
const H264_HIGH_444 = 'f4';

/**
 * Which of our codecs an offered rtpmap entry is, read from its fmtp line where one name
 * covers several streams:
 * - H.264 only with packetization-mode=1, the mode our payloader writes; High 4:4:4
 *   Predictive (profile-level-id f4…) is `H264-444`, any other profile `H264` (we send
 *   constrained baseline, which every H.264 decoder decodes);
 * - VP9 profile 0 (8-bit 4:2:0; profile-id absent means 0) is `VP9`, profile 1 (8-bit 4:4:4)
 *   `VP9-444`; the 10-bit profiles 2 and 3 none (the capture is 8-bit);
 * - AV1 only profile 0 (Main: 8/10-bit 4:2:0; `profile` absent means 0), what av1enc makes.
 */
export function offeredAs(name: string, fmtp: string): VideoCodec | null {
  const param = (key: string) => new RegExp(`(?:^|;)\\s*${key}=(\\w+)`).exec(fmtp)?.[1];
  switch (name.toUpperCase()) {
    case 'H264':
      if (param('packetization-mode') !== '1') return null;
      return param('profile-level-id')?.toLowerCase().startsWith(H264_HIGH_444)
        ? 'H264-444'
        : 'H264';
    case 'VP8':
      return 'VP8';
    case 'VP9': {
      const profile = param('profile-id') ?? '0';
      return profile === '0' ? 'VP9' : profile === '1' ? 'VP9-444' : null;
    }
    case 'AV1':
      return (param('profile') ?? '0') === '0' ? 'AV1' : null;
    default:
      return null;
  }
}

interface OfferedFormat {
  payloadType: string;
  name: string;
  fmtp: string;
}

/** The offer's video section, split at its m= line, with the formats its rtpmap lines name. */
function videoSection(sdp: string) {
  const sections = sdp.split(/^(?=m=)/m);
  const index = sections.findIndex((section) => section.startsWith('m=video'));
  const video = sections[index];
  if (!video) return null;
  const fmtp = new Map<string, string>();
  for (const m of video.matchAll(/^a=fmtp:(\d+) (.*?)\r?$/gm)) fmtp.set(m[1]!, m[2]!.trim());
  const formats: OfferedFormat[] = [];
  for (const m of video.matchAll(/^a=rtpmap:(\d+) ([\w-]+)\/90000/gm)) {
    formats.push({ payloadType: m[1]!, name: m[2]!, fmtp: fmtp.get(m[1]!) ?? '' });
  }
  return { sections, index, video, formats };
}

/** Which of our codecs the browser's offer can receive, read from its rtpmap and fmtp lines. */
export function offeredCodecs(sdp: string): Set<VideoCodec> {
  const found = new Set<VideoCodec>();
  for (const format of videoSection(sdp)?.formats ?? []) {
    const codec = offeredAs(format.name, format.fmtp);
    if (codec) found.add(codec);
  }
  return found;
}

/** The first codec of the streamer's preference that the browser offered, or null. */
export function chooseCodec(preference: readonly VideoCodec[], sdp: string): VideoCodec | null {
  const offered = offeredCodecs(sdp);
  return preference.find((codec) => offered.has(codec)) ?? null;
}

/**
 * The offer with its video section cut down to the payload types `codec` is sent as, and the
 * retransmission (rtx) types that repair them. werift answers with the first offered payload
 * type of the codec's name, whatever its profile; cut down, its answer names the profile that
 * the encoder makes (VP9 profile 1 for `VP9-444`, not the profile 0 listed before it).
 */
export function offerFor(codec: VideoCodec, sdp: string): string {
  const parsed = videoSection(sdp);
  if (!parsed) return sdp;
  const { sections, index, video, formats } = parsed;
  const kept = new Set(
    formats.filter((f) => offeredAs(f.name, f.fmtp) === codec).map((f) => f.payloadType),
  );
  for (const f of formats) {
    const apt = /(?:^|;)\s*apt=(\d+)/.exec(f.fmtp)?.[1];
    if (f.name.toLowerCase() === 'rtx' && apt && kept.has(apt)) kept.add(f.payloadType);
  }
  const lines = video.split(/(?<=\n)/).flatMap((line) => {
    const m = /^m=video (\S+) (\S+) ([\d ]+)(\r?\n)?$/.exec(line);
    if (m) {
      const types = m[3]!.split(' ').filter((pt) => kept.has(pt));
      return [`m=video ${m[1]} ${m[2]} ${types.join(' ')}${m[4] ?? ''}`];
    }
    const format = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+) /.exec(line);
    return format && !kept.has(format[1]!) ? [] : [line];
  });
  sections[index] = lines.join('');
  return sections.join('');
}
