import type { Logger } from 'pino';
import type { IdentityProviders } from './auth/oidc.ts';
import type { SessionManager } from './auth/sessions.ts';
import type { GatewayConfig } from './config.ts';
import type { ControlClient } from './control-client.ts';
import type { GatewayKeys } from './keys.ts';
import type { Metrics } from './metrics.ts';
import type { SessionProxy } from './sessions/proxy.ts';
import type { TurnOffer } from './sessions/turn.ts';

/** What the routes share, built once by startGateway. */
export interface Deps {
  config: GatewayConfig;
  log: Logger;
  keys: GatewayKeys;
  control: ControlClient;
  idps: IdentityProviders;
  sessions: SessionManager;
  metrics: Metrics;
  proxy: SessionProxy;
  turn: TurnOffer | null;
}
