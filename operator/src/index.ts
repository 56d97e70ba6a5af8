// The operator's public surface: start one in-process (tests, control/'s tests) and the
// contract types of the Session resource.
export { configSchema, type OperatorConfig, type OperatorConfigInput } from './config.ts';
export * from './crd.ts';
export { defaultDesiredSettings, STREAMER_PORT, sessionEndpoint } from './desired.ts';
export { FLOE_IMAGE_TAG, FLOE_IMAGES, type FloeImage, floeImage } from './images.ts';
export { renderManifests } from './manifests.ts';
export {
  loadKubeConfig,
  type Operator,
  type StartOperatorOptions,
  startOperator,
} from './operator.ts';
