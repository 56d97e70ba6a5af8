import { describe, expect, it } from 'vitest';
import { parseCodec, parseOptions, safeBackLink, signalUrl } from '../src/stream/params.ts';

const page = 'https://floe.example/sessions/abc/?stats=1';

describe('safeBackLink', () => {
  it('keeps same-origin paths', () => {
    expect(safeBackLink('/launcher', page)).toBe('/launcher');
    expect(safeBackLink('/launcher?tenant=a#apps', page)).toBe('/launcher?tenant=a#apps');
    expect(safeBackLink('../../launcher', page)).toBe('/launcher');
    expect(safeBackLink('./', page)).toBe('/sessions/abc/');
  });

  it('refuses absolute URLs and other schemes', () => {
    expect(safeBackLink('https://evil.example/', page)).toBeNull();
    expect(safeBackLink('http://floe.example/launcher', page)).toBeNull();
    expect(safeBackLink('javascript:alert(1)', page)).toBeNull();
    expect(safeBackLink('data:text/html,hi', page)).toBeNull();
    expect(safeBackLink('launcher', page)).toBeNull();
  });

  it('refuses protocol-relative spellings', () => {
    expect(safeBackLink('//evil.example', page)).toBeNull();
    expect(safeBackLink('/\\evil.example', page)).toBeNull();
    expect(safeBackLink('\\\\evil.example', page)).toBeNull();
    expect(safeBackLink('/\t/evil.example', page)).toBeNull();
    expect(safeBackLink('/\n/evil.example', page)).toBeNull();
    expect(safeBackLink(' //evil.example', page)).toBeNull();
  });

  it('is null when absent', () => {
    expect(safeBackLink(null, page)).toBeNull();
    expect(safeBackLink('', page)).toBeNull();
  });
});

describe('parseOptions', () => {
  it('reads the flags', () => {
    expect(parseOptions('http://h/s/?relay=1&stats=1&codec=vp8&back=%2Flauncher')).toEqual({
      relay: true,
      stats: true,
      codec: 'VP8',
      back: '/launcher',
    });
    expect(parseOptions('http://h/s/')).toEqual({
      relay: false,
      stats: false,
      codec: null,
      back: null,
    });
    expect(parseOptions('http://h/?relay=0&back=https%3A%2F%2Fevil.example').back).toBeNull();
  });

  it('knows the codecs of the protocol only', () => {
    expect(parseCodec('H264')).toBe('H264');
    expect(parseCodec('h264')).toBe('H264');
    expect(parseCodec('av1')).toBe('AV1');
    expect(parseCodec('VP9')).toBe('VP9');
    expect(parseCodec('h264-444')).toBe('H264-444');
    expect(parseCodec('VP9-422')).toBeNull();
    expect(parseCodec('H265')).toBeNull();
    expect(parseCodec(null)).toBeNull();
  });
});

describe('signalUrl', () => {
  it('is relative to the page, keeping a proxy prefix', () => {
    expect(signalUrl('https://floe.example/sessions/abc/?x=1#y', '/signal')).toBe(
      'wss://floe.example/sessions/abc/signal',
    );
    expect(signalUrl('http://127.0.0.1:8080/', '/signal')).toBe('ws://127.0.0.1:8080/signal');
    expect(signalUrl('http://127.0.0.1:8080/index.html', '/signal')).toBe(
      'ws://127.0.0.1:8080/signal',
    );
  });
});
