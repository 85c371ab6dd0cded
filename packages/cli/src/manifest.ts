/**
 * What `acme prisma merge` records beside the merged schema, and `acme migrate diff` reads:
 * which fragment each model came from, which models are tenant-owned, and the raw SQL each
 * fragment carries. Written as `<output>.manifest.json` (single file) or `manifest.json`
 * inside the output folder; deterministic (sorted) so it diffs cleanly in review.
 */
export interface MergeManifest {
  /** Bumped when the shape changes. */
  version: 1
  fragments: FragmentRecord[]
}

export interface FragmentRecord {
  /** The package that ships the fragment, e.g. `@acme/auth`; `app` for the app's own files. */
  source: string
  /** Package version, or null for the app's own files. */
  version: string | null
  /** Models the fragment defines (after merge). */
  models: string[]
  /** Models the fragment declares tenant-owned (they carry a tenant id column). */
  tenantOwned: string[]
  /** Raw SQL the fragment carries, appended to the migration that creates its first model. */
  sql: string | null
}
