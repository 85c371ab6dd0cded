export { DEFAULT_PATHS, manifestPathFor, type PrismaPaths, resolvePaths } from './config.js'
export * from './db/index.js'
export { describeInit, type InitOptions, type InitStep, initProject } from './init.js'
export {
  generateSigningKey,
  type PrivateSigningJwk,
  SIGNING_KEY_ALGORITHMS,
  type SigningKeyAlgorithm,
} from './keys.js'
export type { FragmentRecord, MergeManifest } from './manifest.js'
export * from './merge/index.js'
export * from './migrate/index.js'
