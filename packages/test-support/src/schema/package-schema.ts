import { readFileSync } from 'node:fs'
import path from 'node:path'
import { type MergeManifest, mergeSchema, resolvePaths, type SchemaFile } from '@acme/cli'

/** A package's merged Prisma schema and the manifest the merge records beside it. */
export interface PackageSchema {
  /** Named as the package's merged schema file (`schema.prisma`). */
  schema: SchemaFile
  /** Tenant-owned models and each fragment's raw SQL (`tenancy.sql`…), as `acme migrate diff` reads them. */
  manifest: MergeManifest
}

/**
 * The package's merged schema as its fragments are now: its own schema (`acme.prisma.input`), its
 * dependencies' fragments and its own `acme.prismaFragment` by path. That is the merge its `lint`
 * script checks (`acme prisma merge --fragment <own> --check`), done in memory: nothing is written,
 * so a fragment edited a moment ago counts even before the committed schema is regenerated.
 */
export async function mergePackageSchema(packageDir: string): Promise<PackageSchema> {
  const paths = resolvePaths(packageDir)
  if (!paths.output.endsWith('.prisma')) {
    throw new Error(
      `${packageDir}: the test schema is built from a single-file merge, but acme.prisma.output is a folder (${paths.output})`,
    )
  }
  const fragment = ownFragment(packageDir)
  const result = await mergeSchema({
    cwd: packageDir,
    input: paths.input,
    output: paths.output,
    ...(fragment === null ? {} : { fragments: [fragment] }),
    mode: 'dry-run',
  })
  const key = path.relative(packageDir, paths.output).split(path.sep).join('/')
  const content = result.files[key]
  if (content === undefined) throw new Error(`the merge produced no ${key} in ${packageDir}`)
  return { schema: { path: path.basename(paths.output), content }, manifest: result.manifest }
}

/** The fragment the package declares for its users; an app without one merges its dependencies'. */
function ownFragment(packageDir: string): string | null {
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    acme?: { prismaFragment?: unknown }
  }
  const declared = manifest.acme?.prismaFragment
  return typeof declared === 'string' ? declared : null
}
