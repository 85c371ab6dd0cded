export { DEFAULT_PATHS, manifestPathFor, type PrismaPaths, resolvePaths } from './config.js'
export type { FragmentRecord, MergeManifest } from './manifest.js'
export * from './merge/index.js'
export * from './migrate/index.js'
