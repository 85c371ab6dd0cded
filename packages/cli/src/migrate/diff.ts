import { mkdir } from 'node:fs/promises'
import type { MergeManifest } from '../manifest.js'
import { configurationOnly, modelNames } from './datamodel-blocks.js'
import { diffDatamodels } from './engine.js'
import { MigrateError } from './errors.js'
import {
  ensureMigrationLock,
  migrationSlug,
  migrationTimestamp,
  readMigrations,
  writeMigration,
} from './folder.js'
import { sqlOfNewFragments } from './fragment-sql.js'
import { readSchemaFiles } from './schema-files.js'
import { readSnapshot, SNAPSHOT_FILE, snapshotPath, writeSnapshot } from './snapshot.js'
import { tenantRowLevelSecuritySql } from './tenant-rls.js'

export interface MigrateDiffOptions {
  /** The merged Prisma schema: one file, or a folder of `.prisma` files. */
  schema: string
  migrationsDir: string
  /** Becomes the folder suffix, slugged like `prisma migrate dev --name`. */
  name: string
  /**
   * Fragments' raw SQL is appended to the migration that creates their tables; its tenant-owned
   * models must carry their marker in the schema (row-level security is generated from it).
   */
  manifest?: MergeManifest | null
  now?: () => Date
}

export interface MigrateDiffResult {
  /** The new migration folder, or null when the schema has not changed. */
  migrationDir: string | null
  /** The migration script written (empty when nothing changed). */
  sql: string
}

/**
 * Writes the next migration in Prisma's folder layout, its SQL computed by Prisma's schema engine
 * from the snapshot of the previous datamodel to the current schema.
 */
export async function migrateDiff(options: MigrateDiffOptions): Promise<MigrateDiffResult> {
  const current = await readSchemaFiles(options.schema, options.migrationsDir)
  await mkdir(options.migrationsDir, { recursive: true })

  const previous = await readSnapshot(options.migrationsDir)
  if (previous === null) {
    const existing = await readMigrations(options.migrationsDir)
    if (existing.length > 0) {
      throw new MigrateError(
        'ACME_CLI_SNAPSHOT_MISSING',
        `${options.migrationsDir} has ${existing.length} migration(s) but no ${SNAPSHOT_FILE}, so ` +
          'the datamodel they lead to is unknown. Put the Prisma schema matching the newest ' +
          `migration at ${snapshotPath(options.migrationsDir)} and run again.`,
        { migrations: existing.map((migration) => migration.name) },
      )
    }
  }

  const engineSql = await diffDatamodels(previous ?? configurationOnly(current), current)
  const rlsSql = tenantRowLevelSecuritySql({ previous, current, manifest: options.manifest })
  // Marking an existing model tenant-owned changes only a doc comment, so the engine sees no
  // change, yet the model's table still needs its policy: that migration holds the policy alone.
  if (engineSql === null && rlsSql === '') return { migrationDir: null, sql: '' }

  const sql =
    engineSql === null
      ? rlsSql.replace(/^\n/, '')
      : engineSql +
        sqlOfNewFragments(options.manifest, modelNames(previous ?? []), modelNames(current)) +
        rlsSql
  const now = options.now?.() ?? new Date()
  const folderName = `${migrationTimestamp(now)}_${migrationSlug(options.name)}`

  await ensureMigrationLock(options.migrationsDir)
  const migrationDir = await writeMigration(options.migrationsDir, folderName, sql)
  await writeSnapshot(options.migrationsDir, current)
  return { migrationDir, sql }
}
