// What of a session's answer reaches the browser (sessions/answer.ts), as tables: passive
// content only, plain headers only, redirects within the session only. The real gateway and
// a hostile session in Chromium: gateway/test/hostile-session.test.ts.
import { describe, expect, it } from 'vitest';
import {
  passiveType,
  plainHeader,
  SESSION_ANSWER_CSP,
  sessionAnswer,
  withinSession,
} from '../../src/sessions/answer.ts';
import { answerHead, refusedHeader, upgradedHeader } from '../../src/sessions/ws-forward.ts';

const ID = '01a2a3a4-0000-7000-8000-000000000000';
const PATH = `/sessions/${ID}/files/a.json`;
const SECURITY = [
  ['content-security-policy', SESSION_ANSWER_CSP],
  ['x-content-type-options', 'nosniff'],
] as const;

const asObject = (flat: (string | string[])[]) => {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
};

describe('passiveType', () => {
  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Text/Plain;charset=UTF-8',
    'text/csv',
    'text/event-stream',
    'application/octet-stream',
    'image/png',
    'image/webp',
    'video/mp4',
    'audio/ogg; codecs=opus',
    'font/woff2',
  ])('passes %s', (type) => expect(passiveType(type)).toBe(true));

  it.each([
    'text/html',
    'TEXT/HTML; charset=utf-8',
    'application/xhtml+xml',
    'image/svg+xml',
    'text/xml',
    'application/xml',
    'text/xsl',
    'text/javascript',
    'application/javascript',
    'application/ecmascript',
    'text/css',
    'application/pdf',
    'multipart/x-mixed-replace; boundary=x',
    'video/',
    'audio/x+xml',
    'application/x-shockwave-flash',
    'text/html;text/plain',
    '',
  ])('refuses %j', (type) => expect(passiveType(type)).toBe(false));
});

describe('plainHeader', () => {
  it.each(['content-length', 'etag', 'cache-control', 'x-stand-in', 'vary', 'retry-after'])(
    'passes %s',
    (name) => expect(plainHeader(name)).toBe(true),
  );
  it.each([
    'set-cookie',
    'clear-site-data',
    'service-worker-allowed',
    'content-security-policy',
    'content-security-policy-report-only',
    'x-frame-options',
    'x-content-type-options',
    'access-control-allow-origin',
    'www-authenticate',
    'refresh',
    'link',
    'nel',
    'report-to',
    'reporting-endpoints',
    'alt-svc',
    'strict-transport-security',
    'accept-ch',
    'origin-agent-cluster',
    'connection',
    'transfer-encoding',
    'location', // checked on its own
    'content-type',
  ])('drops %s', (name) => expect(plainHeader(name)).toBe(false));
});

describe('withinSession', () => {
  it.each([
    ['other.json', true],
    ['./', true],
    [`/sessions/${ID}/x`, true],
    ['?page=2', true],
    ['../', true], // the session's root: the gateway's own stream page
    ['../../', false],
    ['../../api/v1/me', false],
    ['/api/v1/me', false],
    [`/sessions/${ID}`, false],
    ['/sessions/another/x', false],
    ['//evil.test/x', false],
    ['https://evil.test/', false],
    ['http://gateway.invalid/api', false],
    ['javascript:alert(1)', false],
    ['/\\evil.test', false],
  ])('%s: %s', (location, within) =>
    expect(withinSession(location, `/sessions/${ID}/files/a.json`)).toBe(within),
  );
  it('is false for a request outside /sessions/{id}/', () =>
    expect(withinSession('x', '/api/v1/me')).toBe(false));
});

describe('sessionAnswer', () => {
  it('passes data with the gateway’s headers over the session’s, without cookies', () => {
    const answer = sessionAnswer(
      200,
      {
        'content-type': 'application/json',
        'content-length': '2',
        'content-security-policy': "default-src *; script-src 'unsafe-inline'",
        'x-content-type-options': 'sniff',
        'set-cookie': ['floe_session=evil; Path=/'],
        'clear-site-data': '"cookies"',
        'service-worker-allowed': '/',
        connection: 'close',
        'x-stand-in': 'echo',
      },
      PATH,
      SECURITY,
      ['floe_csrf=abc; Path=/'],
    );
    expect(answer.ok).toBe(true);
    if (!answer.ok) return;
    expect(asObject(answer.headers)).toEqual({
      'content-security-policy': SESSION_ANSWER_CSP,
      'x-content-type-options': 'nosniff',
      'content-type': 'application/json',
      'content-length': '2',
      'x-stand-in': 'echo',
      'set-cookie': ['floe_csrf=abc; Path=/'],
    });
  });

  it.each([
    [{ 'content-type': 'text/html' }, /text\/html/],
    [{ 'content-type': 'text/javascript; charset=utf-8' }, /javascript/],
    [{ 'content-type': 'image/svg+xml' }, /svg/],
    [{ 'content-type': ['text/plain', 'text/html'] }, /more than one/],
    [{ 'content-type': 'text/plain', location: '/api/v1/me' }, /redirect/],
    [{ location: 'https://evil.test/' }, /redirect/],
    [{ location: ['x', 'y'] }, /redirect/],
  ])('refuses %j', (upstream, reason) => {
    const answer = sessionAnswer(200, upstream, PATH, SECURITY, []);
    expect(answer.ok).toBe(false);
    if (!answer.ok) expect(answer.reason).toMatch(reason);
  });

  it('makes an untyped answer a download, which nosniff keeps from being read as a page', () => {
    const answer = sessionAnswer(200, { 'content-length': '5' }, PATH, SECURITY, []);
    expect(answer.ok && asObject(answer.headers)).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-disposition': 'attachment',
    });
  });

  it('leaves a 304 or 204 without a type as it is (a 304 updates the cached answer’s headers)', () => {
    for (const status of [304, 204]) {
      const answer = sessionAnswer(status, { etag: '"1"' }, PATH, SECURITY, []);
      expect(answer.ok && asObject(answer.headers)['content-type']).toBeUndefined();
    }
  });

  it('keeps a download a download, and drops an inline disposition', () => {
    const download = sessionAnswer(
      200,
      { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="a.csv"' },
      PATH,
      SECURITY,
      [],
    );
    expect(download.ok && asObject(download.headers)['content-disposition']).toBe(
      'attachment; filename="a.csv"',
    );
    const inline = sessionAnswer(
      200,
      { 'content-type': 'text/plain', 'content-disposition': 'inline' },
      PATH,
      SECURITY,
      [],
    );
    expect(inline.ok && asObject(inline.headers)['content-disposition']).toBeUndefined();
  });

  it('passes a redirect within the session', () => {
    const answer = sessionAnswer(
      302,
      { location: 'b.json', 'content-length': '0' },
      PATH,
      SECURITY,
      [],
    );
    expect(answer.ok && asObject(answer.headers).location).toBe('b.json');
  });
});

describe('a WebSocket handshake’s answer', () => {
  it('keeps the handshake’s own headers and plain ones only', () => {
    const head = answerHead(
      'HTTP/1.1 101 Switching Protocols',
      [
        'Upgrade',
        'websocket',
        'Connection',
        'Upgrade',
        'Sec-WebSocket-Accept',
        'abc=',
        'Set-Cookie',
        'floe_session=evil',
        'Clear-Site-Data',
        '"*"',
      ],
      upgradedHeader,
    );
    expect(head).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: abc=\r\n\r\n',
    );
  });

  it('relays a refusal with plain headers only, closing the connection', () => {
    const head = answerHead(
      'HTTP/1.1 401 Unauthorized',
      [
        'Content-Length',
        '0',
        'Set-Cookie',
        'a=b',
        'WWW-Authenticate',
        'Basic',
        'Connection',
        'keep-alive',
      ],
      refusedHeader,
      'connection: close\r\n',
    );
    expect(head).toBe(
      'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nconnection: close\r\n\r\n',
    );
  });
});
