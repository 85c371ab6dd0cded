import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { migrateDiff } from '@acme/cli'
import { schemaCacheKey } from './cache-key.js'
import { mergePackageSchema, type PackageSchema } from './package-schema.js'

export interface SchemaMigrations {
  /** A migrations folder holding one migration: the whole merged schema, from nothing. */
  migrationsDir: string
  /** False when an earlier run had already computed it for the same schema, SQL and CLI. */
  built: boolean
}

export interface SchemaMigrationsOptions {
  /** The package whose merged schema the databases get (its package.json names the fragments). */
  packageDir: string
  /** Where computed migrations are kept; default `<packageDir>/node_modules/.cache/acme-test-schema`. */
  cacheDir?: string
}

/** Fixed, so the recorded migration has the same name in every run and on every machine. */
const MIGRATION_NAME = 'test_schema'
const MIGRATION_TIME = new Date(0)

/**
 * The migration that builds a package's test databases, computed from its fragments by
 * `acme migrate diff` (Prisma's schema engine in WebAssembly, the raw SQL of the manifest, the
 * row-level security of tenant-owned models), so no copy of another package's tables is
 * committed. Starting the engine takes seconds, so the result is cached under a hash of
 * everything it depends on, and computed again only when that changes.
 */
export async function schemaMigrations(
  options: SchemaMigrationsOptions,
): Promise<SchemaMigrations> {
  const merged = await mergePackageSchema(options.packageDir)
  const cacheDir =
    options.cacheDir ?? path.join(options.packageDir, 'node_modules', '.cache', 'acme-test-schema')
  const entry = path.join(cacheDir, schemaCacheKey(merged))
  const migrationsDir = path.join(entry, 'migrations')
  // An entry appears only by the rename below, whole: if it exists, it is complete.
  if (existsSync(entry)) return { migrationsDir, built: false }

  const building = `${entry}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeMigrations(building, merged)
    await rename(building, entry)
  } catch (error) {
    // Another run (a second vitest, another package's bench) may have finished the same entry first.
    if (!existsSync(entry)) throw error
  } finally {
    await rm(building, { recursive: true, force: true })
  }
  return { migrationsDir, built: true }
}

async function writeMigrations(folder: string, merged: PackageSchema): Promise<void> {
  await mkdir(folder, { recursive: true })
  const schemaPath = path.join(folder, merged.schema.path)
  await writeFile(schemaPath, merged.schema.content)
  await migrateDiff({
    schema: schemaPath,
    migrationsDir: path.join(folder, 'migrations'),
    name: MIGRATION_NAME,
    manifest: merged.manifest,
    now: () => MIGRATION_TIME,
  })
}
