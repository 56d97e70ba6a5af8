// The tenants' OpenID Providers, as openid-client sees them: discovery once per issuer
// (cached), a client configuration per tenant client, and which failures are the user's
// (a stale or forged callback) and which are the provider's (down, misbehaving).
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import type { IdentityProviderSettings } from '../control-client.ts';
import { TtlCache } from '../ttl-cache.ts';
import {
  guardedFetch,
  IdentityProviderMisconfigured,
  providerUrlRefusal,
} from './issuer-policy.ts';

export { IdentityProviderMisconfigured };

const DISCOVERY_TTL_MS = 60 * 60_000;
const TIMEOUT_S = 10;

export class IdentityProviders {
  /** development mode: plain-http and loopback providers allowed (see issuer-policy.ts) */
  private readonly insecure: boolean;
  private readonly metadata = new TtlCache<oidc.ServerMetadata>({ ttlMs: DISCOVERY_TTL_MS });
  private readonly configs = new TtlCache<oidc.Configuration>({ ttlMs: DISCOVERY_TTL_MS });

  constructor(opts: { insecure: boolean }) {
    this.insecure = opts.insecure;
  }

  /** The client configuration of a tenant's provider (discovering the issuer once an hour). */
  configuration(idp: IdentityProviderSettings): Promise<oidc.Configuration> {
    const key = createHash('sha256')
      .update(JSON.stringify([idp.issuer, idp.clientId, idp.clientSecret]))
      .digest('base64url');
    return this.configs.get(key, async () => {
      let issuer: URL;
      try {
        issuer = new URL(idp.issuer);
      } catch {
        throw new IdentityProviderMisconfigured(`issuer ${idp.issuer} is not a URL`);
      }
      if (!this.insecure) {
        const refused = providerUrlRefusal(issuer.href);
        if (refused) throw new IdentityProviderMisconfigured(`issuer ${issuer.href}: ${refused}`);
      }
      const insecure = this.insecure && issuer.protocol === 'http:';
      // in production every request to the provider (discovery, JWKS, token, revocation:
      // URLs its metadata chooses) is checked, after DNS resolution too
      const guard = this.insecure ? {} : { [oidc.customFetch]: guardedFetch };
      const server = await this.metadata.get(issuer.href, async () => {
        const discovered = await oidc.discovery(issuer, idp.clientId, undefined, oidc.None(), {
          execute: insecure ? [oidc.allowInsecureRequests] : [],
          timeout: TIMEOUT_S,
          ...guard,
        });
        return discovered.serverMetadata();
      });
      const config = new oidc.Configuration(
        server,
        idp.clientId,
        idp.clientSecret ?? undefined,
        clientAuth(server, idp.clientSecret),
      );
      config.timeout = TIMEOUT_S;
      if (!this.insecure) config[oidc.customFetch] = guardedFetch;
      if (insecure) oidc.allowInsecureRequests(config);
      return config;
    });
  }
}

/** client_secret_basic, OpenID Connect's default, unless the provider only takes _post. */
function clientAuth(server: oidc.ServerMetadata, secret: string | null): oidc.ClientAuth {
  if (!secret) return oidc.None();
  const methods = server.token_endpoint_auth_methods_supported;
  if (
    methods &&
    !methods.includes('client_secret_basic') &&
    methods.includes('client_secret_post')
  ) {
    return oidc.ClientSecretPost(secret);
  }
  return oidc.ClientSecretBasic(secret);
}

// Failures of the provider or the network, not of the request the browser brought.
const UNAVAILABLE = new Set([
  'OAUTH_RESPONSE_IS_NOT_CONFORM',
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_INVALID_SERVER_METADATA',
  'OAUTH_MISSING_SERVER_METADATA',
  'OAUTH_KEY_SELECTION_FAILED',
]);

/**
 * `rejected`: the callback was stale, replayed or forged (wrong state or nonce, a used
 * code, an error from the provider's token endpoint): the user starts again. `unavailable`:
 * the provider could not be reached or answered nonsense.
 */
export function classifyOidcError(err: unknown): 'rejected' | 'unavailable' {
  if (err instanceof oidc.ResponseBodyError) return err.status >= 500 ? 'unavailable' : 'rejected';
  if (err instanceof oidc.AuthorizationResponseError) return 'rejected';
  if (err instanceof IdentityProviderMisconfigured) return 'unavailable';
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('OAUTH_')) {
    return UNAVAILABLE.has(code) ? 'unavailable' : 'rejected';
  }
  return 'unavailable';
}
