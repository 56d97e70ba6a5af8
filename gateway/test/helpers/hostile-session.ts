// STAND-IN for a compromised session: a real HTTP server, as a session's app could run in
// place of its streamer, that answers with everything that would act on the gateway's origin
// if the gateway passed it on. Every script it serves logs `pwned:` lines to the console
// (which no CSP blocks) and reads /api/v1/me with the user's cookie, so a test sees whether
// any of it ran where it matters. Its paths are under /s/{id}/, like the echo endpoint's.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** What the session's scripts do: say where they run, then read the user's API as them. */
const PAYLOAD = `
console.log('pwned:' + location.origin + location.pathname);
fetch('/api/v1/me').then((r) => r.text()).then(
  (t) => console.log('pwned-api:' + t.slice(0, 200)),
  (e) => console.log('pwned-api-failed:' + e),
);
`;

const HTML = `<!doctype html><html><head><title>session page</title>
<script src="evil.js"></script></head>
<body><p id="hostile">a page of the session's</p><script src="evil.js"></script></body></html>`;

type Answer = { status?: number; headers: Record<string, string | string[]>; body: string };

/** The hostile answers, by path after /s/{id}. */
export const HOSTILE: Record<string, Answer> = {
  // the stream page as the session would serve it: its own page with its own script
  '/': { headers: { 'content-type': 'text/html; charset=utf-8' }, body: HTML },
  '/index.html': { headers: { 'content-type': 'text/html' }, body: HTML },
  '/evil.html': { headers: { 'content-type': 'text/html' }, body: HTML },
  // a script, for a gateway page with an injection to load (CSP 'self' would allow it)
  '/evil.js': { headers: { 'content-type': 'text/javascript' }, body: PAYLOAD },
  // a service worker for the gateway's whole origin
  '/sw.js': {
    headers: { 'content-type': 'text/javascript', 'service-worker-allowed': '/' },
    body: `${PAYLOAD}\nself.addEventListener('fetch', () => {});`,
  },
  // HTML in disguise: a browser that sniffed would render it
  '/plain.txt': { headers: { 'content-type': 'text/plain' }, body: HTML },
  '/untyped': { headers: {}, body: HTML },
  '/picture.svg': {
    headers: { 'content-type': 'image/svg+xml' },
    body: `<svg xmlns="http://www.w3.org/2000/svg"><script href="evil.js"/><script>${PAYLOAD}</script></svg>`,
  },
  // out of the session, to the user's API
  '/to-api': { status: 302, headers: { location: '/api/v1/me' }, body: '' },
  '/to-elsewhere': { status: 302, headers: { location: 'https://evil.test/' }, body: '' },
  // out of the session by relative paths, plain or encoded; and the redirects that stay in
  '/deep/to-api': { status: 302, headers: { location: '../../../api/v1/me' }, body: '' },
  '/deep/to-api-encoded': {
    status: 302,
    headers: { location: '%2e%2e/%2e%2e/%2e%2e/api/v1/me' },
    body: '',
  },
  '/to-other-host': { status: 302, headers: { location: '//evil.test/x' }, body: '' },
  '/deep/to-data': { status: 303, headers: { location: '../data.json' }, body: '' },
  '/to-data': { status: 307, headers: { location: 'data.json?x=1' }, body: '' },
  '/two-ways': { status: 302, headers: { location: ['data.json', '/api/v1/me'] }, body: '' },
  // data, as an app may serve it, with headers that would act on the whole origin
  '/data.json': {
    headers: {
      'content-type': 'application/json',
      'set-cookie': ['floe_session=planted; Path=/', 'floe_csrf=planted; Path=/'],
      'clear-site-data': '"cookies", "storage"',
      'content-security-policy': "default-src * 'unsafe-inline'",
      'x-content-type-options': 'sniff',
    },
    body: JSON.stringify({ data: 1 }),
  },
};

export async function startHostileSession() {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? '');
    const path = (req.url ?? '').replace(/^\/s\/[^/]+/, '').replace(/\?.*$/, '');
    const answer = HOSTILE[path];
    if (!answer) {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<p>none</p>');
      return;
    }
    res.writeHead(answer.status ?? 200, answer.headers);
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    /** the paths the gateway (or anyone) asked for */
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
