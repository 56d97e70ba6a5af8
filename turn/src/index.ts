// @floe/turn: Floe's TURN fleet. Credentials (TURN REST scheme), coturn configuration,
// health probes with real allocations, and the choice of servers to offer a client.
export { type AddressRange, cidrToCoturnRange, formatIp, parseCidr, parseIp } from './cidr.ts';
export { type Allocation, TurnClient, type TurnClientOptions } from './client.ts';
export {
  type CoturnSettings,
  type CoturnSettingsInput,
  coturnSettingsSchema,
  DENIED_PEER_CIDRS,
  LOOPBACK_CIDRS,
  parseCoturnSettings,
  renderCoturnConfig,
} from './config.ts';
export {
  DEFAULT_TTL_SECONDS,
  type IceServer,
  iceServersFor,
  mintTurnCredentials,
  type TurnCredentials,
  turnPassword,
} from './credentials.ts';
export {
  type CoturnFeatures,
  DEFAULT_TURNSERVER,
  detectCoturnFeatures,
  parseCoturnHelp,
} from './features.ts';
export {
  applyProbeResult,
  chooseServers,
  type FleetOptions,
  type FleetSettings,
  fleetSettingsSchema,
  initialHealth,
  type ServerHealth,
  TurnFleet,
} from './fleet.ts';
export {
  DEFAULT_PROBE_TIMEOUT_MS,
  type ProbeOptions,
  type ProbeResult,
  probeTurnServer,
} from './probe.ts';
export { TurnError } from './stun-transport.ts';
export {
  DEFAULT_TURN_PORT,
  DEFAULT_TURNS_PORT,
  formatTurnUrl,
  parseTurnUrl,
  type TurnTransport,
  type TurnUrl,
} from './turn-url.ts';
