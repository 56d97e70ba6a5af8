// The user's role at Floe, from the ID token: tenant-admin when one of the values of the
// tenant's roles claim is one of its admin roles, member otherwise.
import type { Role } from './session-token.ts';

/**
 * The claim's value by name; a dotted name that is not itself a claim walks into objects,
 * as in Keycloak's `realm_access.roles`.
 */
export function claimValue(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A roles claim as a list: an array of strings, or one string of space-separated roles. */
export function rolesOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  return [];
}

export function roleFromClaims(
  claims: Record<string, unknown>,
  rolesClaim: string,
  adminRoles: readonly string[],
): Role {
  const roles = rolesOf(claimValue(claims, rolesClaim));
  return roles.some((r) => adminRoles.includes(r)) ? 'tenant-admin' : 'member';
}
