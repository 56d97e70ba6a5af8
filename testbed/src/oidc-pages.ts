// The development identity provider's pages (sign-in, sign-out, errors) in Floe's look: the
// web app's dark palette, a card with a title, labelled inputs, and the demo users to sign in
// as. oidc-provider's default pages are unstyled or load fonts from the network; these are
// self-contained (inline CSS, no script, nothing fetched), so they work offline.

/** A demo user as the sign-in page lists them. */
export interface DemoUser {
  email: string;
  name: string;
  password: string;
  roles: string[];
}

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

// the palette and type of web/src/app/app.css
const STYLE = `
:root{--bg:#0d0f12;--panel:#171a1f;--panel-2:#1e2228;--line:#2a2f37;--text:#e6e8eb;--muted:#9aa3ae;
--accent:#5aa9ff;--accent-text:#06121f;--bad:#ff7a7a;color-scheme:dark;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:14px;line-height:1.45}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;background:var(--bg);color:var(--text);display:flex;flex-direction:column;align-items:center;padding:48px 16px}
.brand{font-weight:700;font-size:18px;letter-spacing:.2px;margin-bottom:4px}
.tag{color:var(--muted);font-size:12px;margin-bottom:20px}
main{width:100%;max-width:380px;background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:24px}
h1{font-size:20px;margin:0 0 4px}
.lead{color:var(--muted);margin:0 0 18px}
form.login{display:flex;flex-direction:column;gap:12px}
.field{display:flex;flex-direction:column;gap:3px}
label{color:var(--muted);font-size:12px}
input{font:inherit;color:var(--text);background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 10px}
input:focus-visible,button:focus-visible,a:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
button,a.button{font:inherit;cursor:pointer;border-radius:6px;padding:8px 14px;border:1px solid var(--line);background:var(--panel-2);color:var(--text);text-decoration:none}
button.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-text);font-weight:600}
button.primary:hover{filter:brightness(1.08)}
.alert{color:#ffd2d2;background:color-mix(in srgb,var(--bad) 14%,transparent);border:1px solid color-mix(in srgb,var(--bad) 45%,transparent);border-radius:6px;padding:8px 10px;margin:0 0 14px}
.demo{margin-top:22px;border-top:1px solid var(--line);padding-top:16px}
.demo h2{font-size:13px;margin:0 0 4px}
.demo p{color:var(--muted);font-size:12px;margin:0 0 10px}
.demo ul{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:6px}
.demo li{display:flex;align-items:center;justify-content:space-between;gap:8px;font-size:13px}
.demo code,.demo .role{color:var(--muted);font-size:12px}
.demo a.button{padding:4px 10px;font-size:12px}
.actions{display:flex;gap:8px;margin-top:8px}
pre{white-space:pre-wrap;word-break:break-word;color:var(--muted);margin:0}
`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — Floe development sign-in</title><style>${STYLE}</style></head>
<body><div class="brand">Floe</div>
<div class="tag">Development identity provider — for trying Floe, not for production</div>
<main>${body}</main></body></html>`;
}

const roleWords = (roles: string[]) =>
  roles.includes('tenant-admin') ? 'tenant admin' : roles.join(', ') || 'member';

/**
 * The sign-in form, the page's only form (clients that script the sign-in post it), then the
 * demo users, each with a link that signs in as them (GET `demoAction?user=<email>`).
 */
export function loginPage(opts: {
  action: string;
  demoAction: string;
  users: readonly DemoUser[];
  error?: string;
  email?: string;
}): string {
  const action = escapeHtml(opts.action);
  const demo = opts.users
    .map(
      (u) => `<li><span>${escapeHtml(u.email)} <code>${escapeHtml(u.password)}</code>
<br><span class="role">${escapeHtml(roleWords(u.roles))}</span></span>
<a class="button" href="${escapeHtml(`${opts.demoAction}?user=${encodeURIComponent(u.email)}`)}" aria-label="Continue as ${escapeHtml(u.email)}">Continue</a></li>`,
    )
    .join('');
  return page(
    'Sign in',
    `<h1>Sign in</h1><p class="lead">to Floe, with your email and password.</p>
${opts.error ? `<p class="alert" role="alert">${escapeHtml(opts.error)}</p>` : ''}
<form method="post" action="${action}" class="login">
<div class="field"><label for="login">Email</label>
<input id="login" name="login" type="email" autocomplete="username" required autofocus value="${escapeHtml(opts.email ?? '')}"></div>
<div class="field"><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></div>
<button class="primary" type="submit">Sign in</button></form>
${
  opts.users.length
    ? `<section class="demo" aria-labelledby="demo-users"><h2 id="demo-users">Demo users</h2>
<p>Type one in above, or continue as one (email, password, role):</p><ul>${demo}</ul></section>`
    : ''
}`,
  );
}

/** The question before signing out (oidc-provider's `logoutSource`); `form` is its own. */
export function logoutPage(form: string): string {
  return page(
    'Sign out',
    `<h1>Sign out?</h1><p class="lead">You are signing out of Floe's development identity provider.</p>
${form}<div class="actions">
<button class="primary" autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>
<button type="submit" form="op.logoutForm">Stay signed in</button></div>`,
  );
}

/** After signing out without a way back to the app (oidc-provider's `postLogoutSuccessSource`). */
export function signedOutPage(): string {
  return page('Signed out', '<h1>Signed out</h1><p class="lead">You can close this tab.</p>');
}

/** An error of the provider (oidc-provider's `renderError`). */
export function errorPage(out: Record<string, unknown>): string {
  const lines = Object.entries(out)
    .map(([k, v]) => `<pre><strong>${escapeHtml(k)}</strong>: ${escapeHtml(String(v))}</pre>`)
    .join('');
  return page(
    'Sign-in failed',
    `<h1>Sign-in failed</h1><p class="lead">Go back to Floe and try again.</p>${lines}`,
  );
}
