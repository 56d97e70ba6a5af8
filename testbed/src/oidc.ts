// A real OpenID Provider (oidc-provider) on loopback with test users of two tenants, for
// the gateway's login tests and for `npm start`'s development sign-in.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Provider, { type Configuration } from 'oidc-provider';
import { freePort } from './free-port.ts';
import { errorPage, loginPage, logoutPage, signedOutPage } from './oidc-pages.ts';

export interface TestUser {
  sub: string;
  email: string;
  name: string;
  password: string;
  tenant: string;
  roles: string[];
}

export interface OidcClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export const TEST_USERS: TestUser[] = [
  {
    sub: 'alice',
    email: 'alice@acme.test',
    name: 'Alice Admin',
    password: 'alice-pw',
    tenant: 'acme',
    roles: ['tenant-admin'],
  },
  {
    sub: 'bob',
    email: 'bob@acme.test',
    name: 'Bob Member',
    password: 'bob-pw',
    tenant: 'acme',
    roles: ['member'],
  },
  {
    sub: 'carol',
    email: 'carol@globex.test',
    name: 'Carol Member',
    password: 'carol-pw',
    tenant: 'globex',
    roles: ['member'],
  },
];

export interface OidcProvider {
  issuer: string;
  users: TestUser[];
  clients: OidcClient[];
  /** refresh_token grants it has answered (successful ones) */
  refreshGrants(): number;
  stop(): Promise<void>;
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16_384) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

/**
 * Starts oidc-provider with code + PKCE (S256 required for every client), refresh tokens,
 * and Floe-styled sign-in and sign-out pages (oidc-pages.ts); consent is implied for these
 * first-party clients.
 */
export async function startOidcProvider(
  opts: {
    port?: number;
    clients?: OidcClient[];
    users?: TestUser[];
    /**
     * each refresh token good for one use, a reused one revoking the grant (what Okta, Auth0
     * and Keycloak do with rotation on); default: oidc-provider's (a confidential client's
     * refresh token is reused until 70 % of its life)
     */
    rotateRefreshTokens?: boolean;
  } = {},
): Promise<OidcProvider> {
  const port = opts.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const users = opts.users ?? TEST_USERS;
  const clients = opts.clients ?? [
    {
      clientId: 'floe-test',
      clientSecret: randomBytes(24).toString('base64url'),
      redirectUris: ['http://127.0.0.1/callback'],
    },
  ];
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const configuration: Configuration = {
    clients: clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      redirect_uris: c.redirectUris,
      post_logout_redirect_uris: c.redirectUris.map((u) => new URL('/', u).href),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
    })),
    jwks: {
      keys: [{ ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig' }] as never,
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'floe_tenant', 'floe_roles'],
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = signedOutPage();
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage({ ...out });
    },
    // the ID token carries the granted scopes' claims (tenant and roles) itself
    conformIdTokenClaims: false,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // first-party clients get refresh tokens without asking for offline_access
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx, sub) => {
      const user = users.find((u) => u.sub === sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          email: user.email,
          email_verified: true,
          name: user.name,
          floe_tenant: user.tenant,
          floe_roles: user.roles,
        }),
      };
    },
    ...(opts.rotateRefreshTokens && { rotateRefreshToken: true }),
    ttl: {
      AccessToken: 600,
      IdToken: 600,
      RefreshToken: 86_400,
      Interaction: 600,
      Session: 3_600,
      Grant: 86_400,
    },
  };
  const provider = new Provider(issuer, configuration);
  let refreshGrants = 0;
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') refreshGrants += 1;
  });
  const oidc = provider.callback();

  async function interaction(req: IncomingMessage, res: ServerResponse, path: string[]) {
    const details = await provider.interactionDetails(req, res);
    const [, uid, action] = path;
    if (uid !== details.uid) throw new Error('interaction mismatch');
    if (details.prompt.name === 'login') {
      const formAction = `/interaction/${details.uid}/login`;
      const demoAction = `/interaction/${details.uid}/demo`;
      if (req.method === 'GET' && action === 'demo') {
        // the page's one-press sign-in as a listed demo user (this provider is for development)
        const email = new URL(req.url ?? '/', issuer).searchParams.get('user');
        const user = users.find((u) => u.email === email);
        if (!user) throw new Error('no such demo user');
        await provider.interactionFinished(req, res, { login: { accountId: user.sub } });
        return;
      }
      if (req.method === 'POST' && action === 'login') {
        const form = await formBody(req);
        const user = users.find(
          (u) => u.email === form.get('login') && u.password === form.get('password'),
        );
        if (user) {
          await provider.interactionFinished(req, res, { login: { accountId: user.sub } });
          return;
        }
        res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          loginPage({
            action: formAction,
            demoAction,
            users,
            error: 'Wrong email or password.',
            email: form.get('login') ?? '',
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(loginPage({ action: formAction, demoAction, users }));
      return;
    }
    // consent: grant what the first-party client asked for
    const { accountId } = details.session as { accountId: string };
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) as InstanceType<typeof provider.Grant>)
      : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!.split('/').filter(Boolean);
    if (path[0] !== 'interaction') return oidc(req, res);
    interaction(req, res, path).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`sign-in failed: ${err.message}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer,
    users,
    clients,
    refreshGrants: () => refreshGrants,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
