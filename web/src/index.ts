export {
  type BuildOptions,
  type BuildResult,
  buildApp,
  buildWeb,
  defaultOutDir,
} from '../build.ts';
