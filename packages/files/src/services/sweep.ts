import type { SqlClient } from '../sql.js'
import type { StorageDriver } from '../storage/driver.js'
import { fileStore } from './store.js'

export interface SweepDeps {
  storage: StorageDriver
  inTenant<R>(tenantId: string, work: (db: SqlClient) => Promise<R>): Promise<R>
  now: () => Date
  /** Objects younger than this are left alone: an upload may still be recording them. */
  graceSeconds: number
  warn(context: Record<string, unknown>, message: string): void
}

export interface SweepReport {
  /** Objects stored whole that no file records (a crash between the last write and the row). */
  orphans: number
  /** Temporary files of writes that never finished (local driver). */
  partials: number
}

interface PartialSweeper {
  sweepPartials(olderThan: Date): Promise<number>
}

const sweepsPartials = (storage: StorageDriver): storage is StorageDriver & PartialSweeper =>
  typeof (storage as Partial<PartialSweeper>).sweepPartials === 'function'

/**
 * Removes what uploads left in storage without a file to show for it: objects older than the
 * grace period that no row names, and the local driver's temporary files. An upload writes its
 * objects before the transaction that records them, so an object is only an orphan once it is
 * older than any upload can take; the grace period is that bound. Idempotent: a run that
 * overlaps another deletes what is left.
 */
export async function sweepStorage(deps: SweepDeps): Promise<SweepReport> {
  const olderThan = new Date(deps.now().getTime() - deps.graceSeconds * 1_000)
  let orphans = 0
  if (deps.storage.list) {
    for await (const page of deps.storage.list()) {
      const byTenant = new Map<string, string[]>()
      for (const object of page) {
        if (object.lastModified >= olderThan) continue
        const tenantId = object.key.split('/')[0] as string
        byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), object.key])
      }
      for (const [tenantId, keys] of byTenant) {
        const recorded = await deps.inTenant(tenantId, (db) =>
          fileStore.recordedKeys(db, tenantId, keys),
        )
        for (const key of keys) {
          if (recorded.has(key)) continue
          await deps.storage.delete(key)
          orphans += 1
        }
      }
    }
  }
  const partials = sweepsPartials(deps.storage) ? await deps.storage.sweepPartials(olderThan) : 0
  if (orphans + partials > 0) {
    deps.warn({ orphans, partials }, 'files: removed stored objects no file records')
  }
  return { orphans, partials }
}
