import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { MergeManifest } from '../../src/manifest.js'
import { migrateApply, migrateDiff } from '../../src/migrate/index.js'
import type { TempDir } from './migrate-fixtures.js'

let step = 0

/**
 * Writes `schema` as the project's merged schema, computes the next migration into the temp
 * folder's `migrations` and applies it to `url` as the connected (owner) role.
 */
export async function diffAndApply(
  project: TempDir,
  url: string,
  schema: string,
  options: { name: string; manifest?: MergeManifest },
): Promise<string> {
  const schemaPath = path.join(project.path, 'schema.prisma')
  const migrationsDir = path.join(project.path, 'migrations')
  await writeFile(schemaPath, schema)
  step += 1
  const result = await migrateDiff({
    schema: schemaPath,
    migrationsDir,
    name: options.name,
    manifest: options.manifest ?? null,
    now: () => new Date(Date.UTC(2025, 5, 1, 0, 0, step)),
  })
  await migrateApply({ migrationsDir, target: { url } })
  return result.sql
}

/** The same database URL, connecting as another role. */
export function urlAs(url: string, role: string, password?: string): string {
  const parsed = new URL(url)
  parsed.username = role
  parsed.password = password === undefined ? '' : encodeURIComponent(password)
  return parsed.toString()
}
