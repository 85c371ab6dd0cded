import { scriptMatchesChecksum } from './checksum.js'
import type { MigrationOnDisk } from './folder.js'
import type { MigrationRecord } from './history.js'

export interface MigrationStatus {
  /** Applied, and the file still matches what was applied. */
  applied: string[]
  /** In the folder, never applied. */
  pending: string[]
  /** Applied, but migration.sql was edited since (checksum differs). */
  changed: string[]
  /** Recorded as started but neither finished nor rolled back (a failed Prisma run). */
  failed: string[]
}

/**
 * Lines the migrations folder up against `_prisma_migrations` with Prisma's rules: rows marked
 * rolled back are ignored, and a migration with any other row is not pending.
 */
export function compareHistory(
  onDisk: MigrationOnDisk[],
  records: MigrationRecord[],
): MigrationStatus {
  const live = records.filter((record) => !record.rolledBack)
  const status: MigrationStatus = { applied: [], pending: [], changed: [], failed: [] }
  for (const record of live) {
    if (!record.finished && !status.failed.includes(record.name)) status.failed.push(record.name)
  }
  for (const migration of onDisk) {
    const finished = live.filter((record) => record.name === migration.name && record.finished)
    if (finished.length > 0) {
      const matches = finished.every((record) =>
        scriptMatchesChecksum(migration.script, record.checksum),
      )
      ;(matches ? status.applied : status.changed).push(migration.name)
    } else if (!live.some((record) => record.name === migration.name)) {
      status.pending.push(migration.name)
    }
  }
  return status
}
