import path from 'node:path'
import { compareHistory } from './compare.js'
import { MigrateError, messageOf } from './errors.js'
import { type MigrationTarget, openExecutor } from './executor.js'
import { MIGRATION_SCRIPT_FILE, type MigrationOnDisk, readMigrations } from './folder.js'
import { applyAndRecordMigration, MIGRATIONS_TABLE_DDL, readMigrationRecords } from './history.js'
import { failedMigrationsAdvice } from './status.js'

export interface MigrateApplyOptions {
  migrationsDir: string
  target: MigrationTarget
  log?: (line: string) => void
}

export interface MigrateApplyResult {
  /** Applied by this run, in order. */
  applied: string[]
  /** Found applied already. */
  alreadyApplied: string[]
}

/**
 * Applies the pending migrations in folder order, each in its own transaction, recording them in
 * `_prisma_migrations` as Prisma would. Refuses to touch a database whose history has a failed
 * migration or an applied migration whose file was edited since.
 */
export async function migrateApply(options: MigrateApplyOptions): Promise<MigrateApplyResult> {
  const log = options.log ?? (() => {})
  const onDisk = await readMigrations(options.migrationsDir)
  const db = await openExecutor(options.target, { exclusive: true, log })
  try {
    await db.exec(MIGRATIONS_TABLE_DDL)
    // Read only once the lock is held: a concurrent run may just have applied some of them.
    const status = compareHistory(onDisk, await readMigrationRecords(db))

    if (status.failed.length > 0) {
      throw new MigrateError(
        'ACME_CLI_MIGRATION_FAILED',
        `Migration ${list(status.failed)} failed in an earlier run and may be half applied; ` +
          `nothing was applied. ${failedMigrationsAdvice(status.failed)}`,
        { migrations: status.failed },
      )
    }
    if (status.changed.length > 0) {
      throw new MigrateError(
        'ACME_CLI_MIGRATION_CHANGED',
        `Migration ${list(status.changed)} was edited after it was applied (its ${MIGRATION_SCRIPT_FILE} ` +
          'no longer matches the recorded checksum); nothing was applied. Restore the applied ' +
          'version from version control and put the change in a new migration (`acme migrate diff`).',
        { migrations: status.changed },
      )
    }

    const applied: string[] = []
    for (const migration of onDisk.filter((entry) => status.pending.includes(entry.name))) {
      log(`Applying migration ${migration.name}`)
      await applyOne(db, migration, options.migrationsDir, applied)
      applied.push(migration.name)
    }
    log(
      applied.length === 0
        ? 'No pending migrations: the database is up to date.'
        : `Applied ${applied.length} migration(s).`,
    )
    return { applied, alreadyApplied: status.applied }
  } finally {
    await db.close()
  }
}

async function applyOne(
  db: Awaited<ReturnType<typeof openExecutor>>,
  migration: MigrationOnDisk,
  migrationsDir: string,
  appliedBefore: string[],
): Promise<void> {
  try {
    await db.transaction((tx) => applyAndRecordMigration(tx, migration))
  } catch (error) {
    const scriptPath = path.join(migrationsDir, migration.name, MIGRATION_SCRIPT_FILE)
    const earlier =
      appliedBefore.length === 0 ? '' : ` Applied before it in this run: ${list(appliedBefore)}.`
    throw new MigrateError(
      'ACME_CLI_MIGRATION_SQL_FAILED',
      `Migration ${migration.name} failed and was rolled back: ${databaseMessage(error)}\n` +
        `Nothing of it was applied or recorded, so fix ${scriptPath} and run \`acme migrate apply\` again.${earlier}`,
      { migrations: [migration.name], cause: error },
    )
  }
}

function databaseMessage(error: unknown): string {
  const parts = [messageOf(error)]
  if (typeof error === 'object' && error !== null) {
    for (const field of ['detail', 'hint'] as const) {
      const value: unknown = Reflect.get(error, field)
      if (typeof value === 'string' && value !== '') parts.push(`${field}: ${value}`)
    }
  }
  return parts.join(' — ')
}

function list(names: string[]): string {
  return names.join(', ')
}
