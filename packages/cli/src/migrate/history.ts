import { randomUUID } from 'node:crypto'
import { migrationChecksum } from './checksum.js'
import type { SqlRow, SqlRunner } from './executor.js'

/**
 * Prisma's `_prisma_migrations` table, column for column as its schema engine creates it
 * (sql-schema-connector, postgres flavour), so `prisma migrate deploy` and `status` can take over.
 */
export const MIGRATIONS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);
`

/** One row of `_prisma_migrations`, reduced to what the commands decide on. */
export interface MigrationRecord {
  name: string
  checksum: string
  finished: boolean
  rolledBack: boolean
  startedAt: string
  logs: string | null
}

export async function migrationsTableExists(db: SqlRunner): Promise<boolean> {
  const [row] = await db.query("SELECT to_regclass('_prisma_migrations') IS NOT NULL AS present")
  return row?.present === true
}

export async function readMigrationRecords(db: SqlRunner): Promise<MigrationRecord[]> {
  const rows = await db.query(
    `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished,
            rolled_back_at IS NOT NULL AS rolled_back, started_at::text AS started_at, logs
       FROM _prisma_migrations
      ORDER BY started_at, migration_name`,
  )
  return rows.map(toRecord)
}

function toRecord(row: SqlRow): MigrationRecord {
  return {
    name: String(row.migration_name),
    checksum: String(row.checksum),
    finished: row.finished === true,
    rolledBack: row.rolled_back === true,
    startedAt: String(row.started_at),
    logs: typeof row.logs === 'string' ? row.logs : null,
  }
}

/**
 * Applies one migration script and records it the way Prisma's engine does (row inserted when
 * started, one applied step and `finished_at` when done), all inside the caller's transaction:
 * a failing script leaves neither its changes nor a row behind.
 */
export async function applyAndRecordMigration(
  tx: SqlRunner,
  migration: { name: string; script: string },
): Promise<void> {
  const id = randomUUID()
  await tx.query(
    'INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, now(), $3)',
    [id, migrationChecksum(migration.script), migration.name],
  )
  await tx.exec(migration.script)
  await tx.query(
    `UPDATE _prisma_migrations
        SET applied_steps_count = applied_steps_count + 1, finished_at = clock_timestamp()
      WHERE id = $1`,
    [id],
  )
}
