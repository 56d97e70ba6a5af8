// The edge's HAProxy rules are rendered from answer.ts's lists: the patterns must say what
// answer.ts's predicates say, for the values a session could choose (PCRE and JavaScript
// read these patterns alike: classes, alternatives, lookaheads, no backreferences).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  droppedHeaderPattern,
  passiveTypePattern,
  quoted,
  renderEdgeConfig,
} from '../../src/edge/haproxy-config.ts';
import {
  PASSIVE_TYPES,
  PLAIN_HEADERS,
  passiveType,
  plainHeader,
} from '../../src/sessions/answer.ts';

const passive = new RegExp(passiveTypePattern(), 'i');
const dropped = new RegExp(droppedHeaderPattern());
// headers the edge's rules check and set before the list applies
const CHECKED = new Set(['content-type', 'content-disposition', 'location']);

const typeLike = fc.oneof(
  fc.constantFrom(...PASSIVE_TYPES, 'text/html', 'image/svg+xml', 'application/xml', 'text/xsl'),
  fc
    .tuple(
      fc.constantFrom('audio', 'video', 'font', 'text', 'application', 'image', 'AUDIO'),
      fc.stringMatching(/^[a-z0-9+.-]{0,12}$/),
      fc.constantFrom('', '; charset=utf-8', ';x=1', ' ', '  ;'),
    )
    .map(([a, b, c]) => `${a}/${b}${c}`),
  fc.string({ maxLength: 30 }),
);

describe('the edge configuration', () => {
  it('passes the content types answer.ts passes, and no other', () => {
    fc.assert(
      fc.property(typeLike, (type) => {
        expect(passive.test(type), JSON.stringify(type)).toBe(passiveType(type));
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps the headers answer.ts keeps, and drops the rest', () => {
    const names = fc.oneof(
      fc.constantFrom(...PLAIN_HEADERS, 'set-cookie', 'x-frame-options', 'x-app', 'x-', 'server'),
      fc.stringMatching(/^[a-z-]{1,20}$/),
      fc.stringMatching(/^x-[a-z-]{0,20}$/),
    );
    fc.assert(
      fc.property(names, (name) => {
        if (CHECKED.has(name)) return;
        expect(dropped.test(name), name).toBe(!plainHeader(name));
      }),
      { numRuns: 2_000 },
    );
    for (const name of CHECKED) expect(dropped.test(name)).toBe(false);
  });

  it('quotes values as HAProxy reads them, and refuses what a line cannot hold', () => {
    expect(quoted(`a "b" \\ $HOME 'c'`)).toBe(`"a \\"b\\" \\\\ \\$HOME 'c'"`);
    expect(() => quoted('a\nb')).toThrow(/cannot hold/);
  });

  it('renders every security header and the session cookie into the rules', () => {
    const text = renderEdgeConfig({
      host: '::1',
      port: 8081,
      threads: 2,
      gatewaySocket: '/run/g.sock',
      adminSocket: '/run/a.sock',
      mapFile: '/run/s.map',
      cookieName: '__Host-floe_session',
      security: [['content-security-policy', "sandbox; default-src 'none'"]],
      refusedBody: '{"error":"refused"}',
      badGatewayBody: '{"error":"no answer"}',
      accessLog: false,
    });
    expect(text).toContain('bind [::1]:8081');
    expect(text).toContain('nbthread 2');
    expect(text).toContain('req.cook(__Host-floe_session),sha2(256),hex');
    expect(text).toContain(
      `http-response set-header content-security-policy "sandbox; default-src 'none'"`,
    );
    expect(text).toContain('server gateway unix@/run/g.sock');
    expect(text).not.toContain('option httplog');
  });
});
