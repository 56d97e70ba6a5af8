// What the gateway must remember between /login and /callback: the PKCE verifier, state
// and nonce, where to go afterwards, and which tenant. It travels in a short-lived cookie,
// encrypted (the verifier must stay secret) and authenticated (so it cannot be altered).
import { z } from 'zod';
import type { GatewayKeys } from '../keys.ts';
import { seal, unseal } from './sealed.ts';

export const LOGIN_COOKIE = 'floe_login';
export const LOGIN_TTL_SECONDS = 600;

const LoginState = z.object({
  state: z.string().min(1),
  nonce: z.string().min(1),
  verifier: z.string().min(43),
  returnTo: z.string().startsWith('/'),
  /** the tenant's slug (for the "sign in again" link) */
  tenant: z.string().min(1),
  /** the tenant's id: the callback uses this tenant's identity provider and no other */
  tenantId: z.string().min(1),
  /** the exact redirect_uri sent to the provider (the token request must repeat it) */
  redirectUri: z.url(),
});

export type LoginState = z.infer<typeof LoginState>;

export const sealLoginState = (keys: GatewayKeys, state: LoginState) =>
  seal(keys, 'login-state', state, LOGIN_TTL_SECONDS);

export async function openLoginState(
  keys: GatewayKeys,
  token: string | undefined,
): Promise<LoginState | null> {
  if (!token) return null;
  const payload = await unseal(keys, 'login-state', token);
  const parsed = LoginState.safeParse(payload);
  return parsed.success ? parsed.data : null;
}
