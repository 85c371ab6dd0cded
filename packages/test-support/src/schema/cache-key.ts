import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type { PackageSchema } from './package-schema.js'

/**
 * What the migration SQL depends on: the merged schema, the manifest (raw SQL, tenant-owned
 * models) and the @acme/cli build that turns them into SQL. The build counts so that a change to
 * the CLI's diff or its row-level security, rebuilt, is not hidden behind SQL cached before it.
 */
export function schemaCacheKey(merged: PackageSchema): string {
  const hash = createHash('sha256')
  hash.update(merged.schema.content)
  hash.update('\0')
  hash.update(JSON.stringify(merged.manifest))
  for (const file of cliBuildFiles()) {
    hash.update('\0')
    hash.update(readFileSync(file))
  }
  return hash.digest('hex')
}

/** @acme/cli's package.json (its pinned engine version) and every file of its build. */
function cliBuildFiles(): string[] {
  const packageJson = createRequire(import.meta.url).resolve('@acme/cli/package.json')
  const dist = path.join(path.dirname(packageJson), 'dist')
  const built = readdirSync(dist, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort()
  return [packageJson, ...built]
}
