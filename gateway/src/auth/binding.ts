// Binds a tenant's identity provider to that tenant. Two tenants may share one issuer (one
// corporate IdP, one SaaS IdP with several organisations); a valid ID token from it proves
// who the user is, not which tenant they belong to. A tenant's settings say which users are
// its own: emails in its domains (not ones the provider calls unverified), and/or a claim
// with a given value (e.g. the organisation id). Checked at the callback and at every renewal.
import type { IdentityProviderSettings } from '../control-client.ts';

type Binding = Pick<IdentityProviderSettings, 'allowedEmailDomains' | 'requiredClaim'>;

/** The domain of an email address, lowercased; null when it has none. */
function domainOf(email: string): string | null {
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return null;
  return email.slice(at + 1).toLowerCase();
}

/** Why these ID token claims do not belong to this tenant, or null when they do. */
export function bindingRefusal(claims: Record<string, unknown>, idp: Binding): string | null {
  if (idp.allowedEmailDomains.length > 0) {
    const email = typeof claims.email === 'string' ? claims.email : '';
    const domain = domainOf(email);
    if (!domain || !idp.allowedEmailDomains.includes(domain)) {
      return 'Your email address is not one this organisation signs in.';
    }
    if (claims.email_verified === false || claims.email_verified === 'false') {
      return 'The identity provider has not verified your email address.';
    }
  }
  if (idp.requiredClaim) {
    const { name, value } = idp.requiredClaim;
    const held = claims[name];
    const ok = Array.isArray(held) ? held.includes(value) : held === value;
    if (!ok) return 'The identity provider does not place you in this organisation.';
  }
  return null;
}

/**
 * At renewal: the email the sign-in carries now (refreshed, or the one it signed in with),
 * and the required claim when the refreshed ID token carries it. A refresh may leave claims
 * out of its ID token (or give none); the callback checked them, and an admin who narrows
 * the email domains still ends sign-ins outside them at their next renewal.
 */
export function renewalBindingRefusal(
  fresh: Record<string, unknown> | undefined,
  email: string,
  idp: Binding,
): string | null {
  const claim = idp.requiredClaim;
  return bindingRefusal(
    { ...fresh, email },
    {
      allowedEmailDomains: idp.allowedEmailDomains,
      requiredClaim: claim && fresh && claim.name in fresh ? claim : null,
    },
  );
}
