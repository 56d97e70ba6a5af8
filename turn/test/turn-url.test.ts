import { describe, expect, it } from 'vitest';
import { frameLength } from '../src/stun-transport.ts';
import { formatTurnUrl, parseTurnUrl } from '../src/turn-url.ts';

describe('parseTurnUrl', () => {
  it.each([
    ['turn:127.0.0.1:3478?transport=udp', { host: '127.0.0.1', port: 3478, transport: 'udp' }],
    ['turn:turn.example?transport=tcp', { host: 'turn.example', port: 3478, transport: 'tcp' }],
    ['turn:turn.example', { host: 'turn.example', port: 3478, transport: 'udp' }],
    ['turn:[::1]:3479', { host: '::1', port: 3479, transport: 'udp' }],
    ['turns:turn.example:443?transport=tcp', { host: 'turn.example', port: 443, transport: 'tls' }],
    ['turns:turn.example', { host: 'turn.example', port: 5349, transport: 'tls' }],
  ])('%s', (url, parsed) => {
    expect(parseTurnUrl(url)).toEqual(parsed);
    expect(parseTurnUrl(formatTurnUrl(parseTurnUrl(url)))).toEqual(parsed);
  });

  it.each([
    ['stun:turn.example', /must start with turn: or turns:/],
    ['turn:', /host\[:port\]/],
    ['turn:turn.example:0', /port must be 1-65535/],
    ['turn:turn.example:70000', /port must be 1-65535/],
    ['turn:::1:3478', /IPv6 addresses in brackets/],
    ['turn:[turn.example]:3478', /not an IPv6 address/],
    ['turn:turn.example?transport=sctp', /transport=udp or transport=tcp/],
    ['turns:turn.example?transport=udp', /DTLS/],
    ['turn:user@turn.example', /host\[:port\]/],
  ])('refuses %s', (url, error) => {
    expect(() => parseTurnUrl(url)).toThrow(error);
  });
});

describe('frameLength (STUN over TCP)', () => {
  it('reads STUN and padded ChannelData lengths, and waits for a whole header', () => {
    expect(frameLength(Buffer.from([0x01, 0x13, 0x00, 0x08]))).toBe(28);
    expect(frameLength(Buffer.from([0x40, 0x00, 0x00, 0x05]))).toBe(12);
    expect(frameLength(Buffer.from([0x40, 0x00, 0x00, 0x08]))).toBe(12);
    expect(frameLength(Buffer.from([0x01, 0x13, 0x00]))).toBeUndefined();
    expect(frameLength(Buffer.from([0xff, 0x00, 0x00, 0x00]))).toBe(0);
  });
});
