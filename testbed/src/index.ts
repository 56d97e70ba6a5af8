export { cacheDir } from './cache.ts';
export { CHROMIUM_ARGS, chromiumPath, launchChromium } from './chromium.ts';
export { type Coturn, startCoturn } from './coturn.ts';
export { type DelayLine, startDelayLine } from './delay-line.ts';
export { freePort } from './free-port.ts';
export { ensureHelm, helmVersion } from './helm.ts';
export { withHostLock } from './host-lock.ts';
export { ensureK6, K6_ENV, K6_VERSION } from './k6.ts';
export {
  ensureKubernetesBinaries,
  type GpuNodePool,
  istioCrdsPath,
  istioVersion,
  type KubernetesBinaries,
  type KubernetesCluster,
  type KubernetesClusterSpec,
  type KubernetesClusters,
  kubernetesVersions,
  prometheusOperatorCrdsPaths,
  prometheusOperatorVersion,
  startKubernetesClusters,
  stopKubernetesClusters,
  TEST_STORAGE_CLASS,
  type TestStorage,
} from './kubernetes.ts';
export { createShapedLink, type LinkShape, QUEUE_MS, type ShapedLink } from './netns.ts';
export {
  type OidcClient,
  type OidcProvider,
  startOidcProvider,
  TEST_USERS,
  type TestUser,
} from './oidc.ts';
export {
  containerArgv,
  containerEnv,
  imageConfig,
  type LocalImage,
  type PodObject,
  type RunningPod,
  runcContainers,
  runPod,
} from './pod-runner.ts';
export { type Postgres, startPostgres } from './postgres.ts';
export { isAlive, processStartTime } from './process.ts';
export { ensurePyarrow, PYARROW_VERSION, readParquet } from './pyarrow.ts';
export { type Registry, startRegistry } from './registry.ts';
export {
  type BundleSpec,
  editBundle,
  type RunningBundle,
  runBundle,
  startBundle,
  unpackBundle,
} from './runc.ts';
export { ensureSchemathesis, SCHEMATHESIS_VERSION } from './schemathesis.ts';
export { ensureSelkies, SELKIES_VERSION } from './selkies.ts';
