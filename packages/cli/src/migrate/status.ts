import { compareHistory, type MigrationStatus } from './compare.js'
import { type MigrationTarget, openExecutor } from './executor.js'
import { readMigrations } from './folder.js'
import { migrationsTableExists, readMigrationRecords } from './history.js'

export type { MigrationStatus } from './compare.js'

export interface MigrateStatusOptions {
  migrationsDir: string
  target: MigrationTarget
}

/** Where the database stands against the migrations folder. Reads only; creates nothing. */
export async function migrateStatus(options: MigrateStatusOptions): Promise<MigrationStatus> {
  const onDisk = await readMigrations(options.migrationsDir)
  const db = await openExecutor(options.target, { exclusive: false })
  try {
    const records = (await migrationsTableExists(db)) ? await readMigrationRecords(db) : []
    return compareHistory(onDisk, records)
  } finally {
    await db.close()
  }
}

export function failedMigrationsAdvice(failed: string[]): string {
  const names = failed.map((name) => `'${name}'`).join(', ')
  return (
    'Check the database by hand and undo what the failed migration changed, then mark it rolled ' +
    `back (\`prisma migrate resolve --rolled-back <name>\`, or in SQL: UPDATE _prisma_migrations ` +
    `SET rolled_back_at = now() WHERE migration_name IN (${names}) AND finished_at IS NULL) ` +
    'and apply again.'
  )
}

/** The status for people: one section per state that has migrations, then what to do. */
export function formatStatus(status: MigrationStatus): string {
  const lines: string[] = []
  const section = (title: string, names: string[]) => {
    if (names.length === 0) return
    lines.push(`${title} (${names.length}):`, ...names.map((name) => `  ${name}`))
  }
  section('Applied', status.applied)
  section('Pending', status.pending)
  section('Changed since applied', status.changed)
  section('Failed', status.failed)

  if (status.failed.length > 0) lines.push('', failedMigrationsAdvice(status.failed))
  if (status.changed.length > 0) {
    lines.push(
      '',
      'Applied migrations must not be edited: restore them from version control and put the ' +
        'change in a new migration (`acme migrate diff`).',
    )
  }
  if (status.pending.length > 0 && status.failed.length === 0 && status.changed.length === 0) {
    lines.push('', 'Run `acme migrate apply` to apply the pending migrations.')
  }
  if (lines.length === 0) lines.push('No migrations found.')
  else if (status.pending.length + status.failed.length + status.changed.length === 0) {
    lines.push('', 'Database schema is up to date.')
  }
  return `${lines.join('\n')}\n`
}
