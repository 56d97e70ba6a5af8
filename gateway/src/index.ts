// @floe/gateway: the regional gateway. startGateway serves it; the pure decisions are
// exported for tests and for whoever needs the same answers.
export { IDENTITY_AUDIENCE, mintIdentity } from './auth/identity-token.ts';
export { safeReturnTo } from './auth/return-to.ts';
export { roleFromClaims } from './auth/roles.ts';
export {
  renewalDue,
  SESSION_AUDIENCE,
  type SessionClaims,
  sessionExpiry,
  signSession,
  verifySession,
} from './auth/session-token.ts';
export { type GatewayConfig, HELP, loadConfig } from './config.ts';
export { CSRF_COOKIE, CSRF_HEADER, checkCsrf } from './http/csrf.ts';
export { securityHeaders } from './http/security-headers.ts';
export { type GatewayKeys, generateKeySet, loadKeys } from './keys.ts';
export { createLogger } from './log.ts';
export { type Gateway, startGateway } from './server.ts';
export { sessionAccess } from './sessions/access.ts';
