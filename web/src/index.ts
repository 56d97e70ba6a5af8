export { type BuildOptions, type BuildResult, buildWeb, defaultOutDir } from '../build.ts';
