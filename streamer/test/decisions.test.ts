// Pure decisions of the streamer: codec choice from the browser's offer, congestion control,
// configuration parsing, the probe barcode, which remote ICE candidates reach werift and which
// servers it gathers with.
import { describe, expect, it } from 'vitest';
import { BARCODE, BARCODE_CELLS, decodeBarcode, encodeBarcode } from '../src/barcode.ts';
import { nextBitrate, worthChanging } from '../src/bitrate.ts';
import { remoteCandidateAction } from '../src/candidates.ts';
import { chooseCodec, offeredAs, offeredCodecs, offerFor } from '../src/codec.ts';
import { loadStreamerConfig } from '../src/config.ts';
import { stunOfTurn, weriftIceServers } from '../src/ice-servers.ts';
import { clientSignal } from '../src/protocol-schema.ts';

const offer = (video: string) =>
  `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n${video}`;
const chromeVideo =
  'm=video 9 UDP/TLS/RTP/SAVPF 96 102 103\r\na=rtpmap:96 VP8/90000\r\n' +
  'a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n' +
  'a=rtpmap:103 H264/90000\r\na=fmtp:103 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n';

describe('codec choice', () => {
  it('reads the codecs of the video section only', () => {
    expect([...offeredCodecs(offer(chromeVideo))].sort()).toEqual(['H264', 'VP8']);
    expect(offeredCodecs(offer('')).size).toBe(0);
  });

  it('takes the streamer’s preference among what the browser offered', () => {
    expect(chooseCodec(['H264', 'VP8'], offer(chromeVideo))).toBe('H264');
    expect(chooseCodec(['VP8', 'H264'], offer(chromeVideo))).toBe('VP8');
  });

  it('ignores H.264 without packetization-mode 1, which our payloader cannot write', () => {
    const onlyMode0 =
      'm=video 9 UDP/TLS/RTP/SAVPF 103\r\na=rtpmap:103 H264/90000\r\na=fmtp:103 packetization-mode=0\r\n';
    expect(chooseCodec(['H264'], offer(onlyMode0))).toBeNull();
    expect(chooseCodec(['H264', 'VP8'], offer(onlyMode0))).toBeNull();
  });
});

describe('codec choice among VP9 and AV1 profiles', () => {
  it.each([
    ['VP8', '', 'VP8'],
    ['vp8', '', 'VP8'],
    ['VP9', 'profile-id=0', 'VP9'],
    ['VP9', '', 'VP9'], // profile-id absent means profile 0
    ['VP9', 'profile-id=2', null], // 10-bit: the capture is 8-bit
    ['VP9', 'profile-id=3', null], // 10-bit 4:4:4
    ['VP9', 'profile-id=1', 'VP9-444'], // 8-bit 4:4:4
    ['AV1', 'level-idx=5;profile=0;tier=0', 'AV1'],
    ['AV1', '', 'AV1'],
    ['AV1', 'level-idx=5;profile=1;tier=0', null], // High (4:4:4)
    ['H264', 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f', 'H264'],
    ['H264', 'packetization-mode=0', null],
    ['H264', 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f', 'H264'],
    ['H264', 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f', 'H264-444'],
    ['H264', 'packetization-mode=1;profile-level-id=F4001F', 'H264-444'],
    ['H264', 'packetization-mode=0;profile-level-id=f4001f', null],
    ['H265', 'level-id=93', null],
    ['rtx', 'apt=96', null],
  ])('%s with "%s" is sent as %s', (name, fmtp, expected) => {
    expect(offeredAs(name, fmtp)).toBe(expected);
  });

  // The video section of a Chromium offer, trimmed to some codecs and their fmtp lines.
  const chromium =
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 45 46\r\na=rtpmap:96 VP8/90000\r\n' +
    'a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=rtpmap:98 VP9/90000\r\na=fmtp:98 profile-id=0\r\n' +
    'a=rtpmap:100 VP9/90000\r\na=fmtp:100 profile-id=2\r\n' +
    'a=rtpmap:45 AV1/90000\r\na=fmtp:45 level-idx=5;profile=0;tier=0\r\n' +
    'a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n';

  it('takes the first codec of the preference the browser offered', () => {
    expect([...offeredCodecs(offer(chromium))].sort()).toEqual(['AV1', 'H264', 'VP8', 'VP9']);
    expect(chooseCodec(['AV1', 'VP9', 'H264'], offer(chromium))).toBe('AV1');
    expect(chooseCodec(['VP9', 'AV1'], offer(chromium))).toBe('VP9');
    expect(chooseCodec(['AV1', 'H264'], offer(chromeVideo))).toBe('H264');
    expect(chooseCodec(['AV1', 'VP9'], offer(chromeVideo))).toBeNull();
  });
});

describe('the offer cut down to the chosen codec', () => {
  // Chromium lists each codec's 4:2:0 profile before its 4:4:4 one, with an rtx type each
  const fb = (pt: number) => `a=rtcp-fb:${pt} nack\r\na=rtcp-fb:${pt} transport-cc\r\n`;
  const video =
    'm=video 9 UDP/TLS/RTP/SAVPF 98 99 35 36 108 109 41 42 114 118\r\nc=IN IP4 0.0.0.0\r\n' +
    'a=mid:1\r\na=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n' +
    `a=rtpmap:98 VP9/90000\r\n${fb(98)}a=fmtp:98 profile-id=0\r\n` +
    'a=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98\r\n' +
    `a=rtpmap:35 VP9/90000\r\n${fb(35)}a=fmtp:35 profile-id=1\r\n` +
    'a=rtpmap:36 rtx/90000\r\na=fmtp:36 apt=35\r\n' +
    `a=rtpmap:108 H264/90000\r\n${fb(108)}a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n` +
    'a=rtpmap:109 rtx/90000\r\na=fmtp:109 apt=108\r\n' +
    `a=rtpmap:41 H264/90000\r\n${fb(41)}a=fmtp:41 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f\r\n` +
    'a=rtpmap:42 rtx/90000\r\na=fmtp:42 apt=41\r\n' +
    'a=rtpmap:114 H264/90000\r\na=fmtp:114 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n' +
    'a=rtpmap:118 red/90000\r\na=rtcp-fb:* ccm fir\r\n';
  const sdp = offer(video);
  const types = (s: string) => /^m=video \S+ \S+ (.*)$/m.exec(s)![1]!.trim().split(' ');

  it.each([
    ['VP9-444', ['35', '36']],
    ['VP9', ['98', '99']],
    ['H264-444', ['41', '42']],
    ['H264', ['108', '109']], // not 114: packetization-mode 0
  ] as const)('keeps only what %s is sent as, and its retransmissions', (codec, kept) => {
    const cut = offerFor(codec, sdp);
    expect(types(cut)).toEqual(kept);
    const named = [
      ...cut.slice(cut.indexOf('m=video')).matchAll(/^a=(?:rtpmap|fmtp|rtcp-fb):(\d+) /gm),
    ].map((m) => m[1]);
    expect(new Set(named)).toEqual(new Set(kept));
    expect(chooseCodec([codec], cut)).toBe(codec);
    expect(offeredCodecs(cut)).toEqual(new Set([codec]));
  });

  it('leaves the other sections and the video section’s other lines as they were', () => {
    const cut = offerFor('VP9-444', sdp);
    expect(cut.startsWith(sdp.slice(0, sdp.indexOf('m=video')))).toBe(true);
    for (const line of ['c=IN IP4 0.0.0.0', 'a=mid:1', 'a=rtcp-fb:* ccm fir', 'a=extmap:3 '])
      expect(cut).toContain(line);
    expect(cut.endsWith('\r\n')).toBe(true);
    expect(offerFor('VP8', 'v=0\r\n')).toBe('v=0\r\n'); // no video section: as it was
  });
});

describe('remote ICE candidates', () => {
  const c = (candidate: string) => ({ candidate, sdpMid: '0', sdpMLineIndex: 0 });
  const mdns =
    'candidate:2682623419 1 udp 2113937151 eeabd9e3-80df-4586-9871-d9c02688e8cc.local 51950 typ host generation 0';
  const srflx =
    'candidate:25713583 1 udp 1677729535 127.0.0.1 51950 typ srflx raddr 0.0.0.0 rport 0 generation 0';
  const relay =
    'candidate:1959375314 1 udp 50339839 127.0.0.1 58200 typ relay raddr 127.0.0.1 rport 51950';
  const host = 'candidate:1 1 udp 2113937151 192.0.2.2 40000 typ host';
  const v6host = 'candidate:2 1 udp 2113937151 fd00::2 40001 typ host';

  it.each([
    ['an mDNS host name', c(mdns), false, 'skip-mdns'],
    ['an mDNS name in upper case, after an earlier one', c(mdns.toUpperCase()), true, 'skip-mdns'],
    ['an mDNS name written as an SDP attribute', c(`a=${mdns}`), false, 'skip-mdns'],
    ['an IPv4 host address', c(host), false, 'apply'],
    ['an IPv6 host address', c(v6host), true, 'apply'],
    ['a server-reflexive candidate', c(srflx), true, 'apply'],
    ['a relay candidate', c(relay), false, 'apply'],
    ['the end of candidates, nothing skipped', null, false, 'apply'],
    ['the end of candidates (empty text), nothing skipped', c(''), false, 'apply'],
    ['the end of candidates after an mDNS name', null, true, 'skip-end'],
    ['the end of candidates (empty text) after an mDNS name', c(''), true, 'skip-end'],
  ] as const)('%s', (_name, candidate, mdnsSkipped, action) => {
    expect(remoteCandidateAction(candidate, mdnsSkipped)).toBe(action);
  });
});

describe('the ICE servers werift gathers with', () => {
  it.each([
    ['turn:10.0.0.5:3478', 'stun:10.0.0.5:3478'],
    ['turn:turn.example.com', 'stun:turn.example.com:3478'],
    ['turn:[fd00::5]:3479?transport=udp', 'stun:[fd00::5]:3479'],
    ['turn:10.0.0.5:3478?transport=tcp', null],
    ['turns:turn.example.com:5349', null],
    ['stun:10.0.0.5:3478', null],
    ['not a url', null],
  ] as const)('%s → %s', (turn, stun) => {
    expect(stunOfTurn(turn)).toBe(stun);
  });

  it('asks the first TURN server over UDP for STUN, and gives werift one URL an entry', () => {
    const creds = { username: '1:s', credential: 'c' };
    expect(
      weriftIceServers([
        { urls: ['turns:a.example:5349', 'turn:b.example:3478?transport=tcp'], ...creds },
        { urls: 'turn:c.example:3478', ...creds },
      ]),
    ).toEqual([
      { urls: 'stun:c.example:3478' },
      { urls: 'turns:a.example:5349', ...creds },
      { urls: 'turn:b.example:3478?transport=tcp', ...creds },
      { urls: 'turn:c.example:3478', ...creds },
    ]);
  });

  it('keeps a STUN server it was given, and adds none without a TURN server over UDP', () => {
    expect(weriftIceServers([{ urls: ['stun:s.example:3478', 'turn:t.example'] }])).toEqual([
      { urls: 'stun:s.example:3478', username: undefined, credential: undefined },
      { urls: 'turn:t.example', username: undefined, credential: undefined },
    ]);
    expect(weriftIceServers([])).toEqual([]);
    expect(weriftIceServers([{ urls: 'turns:t.example' }])).toEqual([
      { urls: 'turns:t.example', username: undefined, credential: undefined },
    ]);
  });
});

describe('congestion control', () => {
  const bounds = { minKbps: 500, maxKbps: 8000 };

  it('follows the receiver estimate down at once, with headroom', () => {
    expect(nextBitrate(6000, { rembKbps: 2000, fractionLost: 0, twccKbps: null }, bounds)).toBe(
      1800,
    );
  });

  it('backs off on heavy loss and climbs slowly on a clean path', () => {
    expect(nextBitrate(4000, { rembKbps: null, fractionLost: 0.2, twccKbps: null }, bounds)).toBe(
      3600,
    );
    expect(nextBitrate(4000, { rembKbps: null, fractionLost: 0, twccKbps: null }, bounds)).toBe(
      4320,
    );
    expect(nextBitrate(4000, { rembKbps: null, fractionLost: 0.05, twccKbps: null }, bounds)).toBe(
      4000,
    );
  });

  it('takes the send-side estimate as it is where transport-wide feedback comes', () => {
    const feedback = { rembKbps: 9000, fractionLost: 0.3 };
    expect(nextBitrate(4000, { ...feedback, twccKbps: 420 }, bounds)).toBe(500);
    expect(nextBitrate(4000, { ...feedback, twccKbps: 5200 }, bounds)).toBe(5200);
    expect(nextBitrate(4000, { ...feedback, twccKbps: 90_000 }, bounds)).toBe(8000);
  });

  it('stays within the configured bounds', () => {
    expect(nextBitrate(600, { rembKbps: 100, fractionLost: 0.5, twccKbps: null }, bounds)).toBe(
      500,
    );
    expect(nextBitrate(7900, { rembKbps: 50_000, fractionLost: 0, twccKbps: null }, bounds)).toBe(
      8000,
    );
  });

  it('skips changes too small to matter', () => {
    expect(worthChanging(4000, 4100)).toBe(false);
    expect(worthChanging(4000, 4400)).toBe(true);
  });
});

describe('configuration', () => {
  it('has working defaults with only a display', () => {
    const c = loadStreamerConfig({ DISPLAY: ':5' });
    expect(c.FLOE_STREAMER_CODECS).toEqual(['H264', 'VP8', 'VP9', 'AV1', 'H264-444', 'VP9-444']);
    expect(c.FLOE_STREAMER_VIEWER_POLICY).toBe('takeover');
  });

  it('names each bad value', () => {
    expect(() => loadStreamerConfig({ DISPLAY: 'nope' })).toThrow(/DISPLAY/);
    expect(() => loadStreamerConfig({ DISPLAY: ':1', FLOE_STREAMER_CODECS: 'H265' })).toThrow(
      /FLOE_STREAMER_CODECS/,
    );
    expect(() => loadStreamerConfig({ DISPLAY: ':1', FLOE_STREAMER_MIN_KBPS: '9000' })).toThrow(
      /MIN_KBPS must not exceed/,
    );
    expect(() => loadStreamerConfig({ DISPLAY: ':1', FLOE_TURN_URLS: 'turn:x:3478' })).toThrow(
      /FLOE_TURN_SECRET is required/,
    );
  });
});

describe('probe barcode', () => {
  const paint = (cells: boolean[]) => (x: number, _y: number) =>
    cells[Math.floor(x / BARCODE.cellWidth)] ? 235 : 16;

  it('round-trips a time in ms', () => {
    const t = 1_795_573_404_016;
    const cells = encodeBarcode(t);
    expect(cells).toHaveLength(BARCODE_CELLS);
    expect(decodeBarcode(paint(cells))).toBe(t);
  });

  it('tells an ordinary frame from a probe frame by its markers', () => {
    expect(decodeBarcode(() => 0)).toBeNull();
    expect(decodeBarcode(() => 255)).toBeNull();
  });
});

describe('the ICE servers a page hands over with its offer', () => {
  const sdp = 'v=0\r\n';
  it.each([
    ['none', { type: 'offer', sdp }, true],
    [
      'the gateway’s TURN servers',
      {
        type: 'offer',
        sdp,
        iceServers: [{ urls: ['turn:t:3478'], username: '1:s', credential: 'x' }],
      },
      true,
    ],
    ['a STUN server', { type: 'offer', sdp, iceServers: [{ urls: 'stun:t:3478' }] }, true],
    [
      'an http URL',
      { type: 'offer', sdp, iceServers: [{ urls: 'http://169.254.169.254/' }] },
      false,
    ],
    [
      'too many servers',
      { type: 'offer', sdp, iceServers: Array(5).fill({ urls: 'turn:t:1' }) },
      false,
    ],
    ['no URL', { type: 'offer', sdp, iceServers: [{ urls: [] }] }, false],
  ])('%s: valid %s', (_, message, valid) => {
    expect(clientSignal.safeParse(message).success).toBe(valid);
  });
});
