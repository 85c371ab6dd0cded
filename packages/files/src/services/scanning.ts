import { isAcmeError } from '@acme/core'
import type { SqlClient } from '../sql.js'
import type { StorageDriver } from '../storage/driver.js'
import type { ScanHook } from '../types.js'
import { fileStore } from './store.js'

export interface ScanDeps {
  hook: ScanHook
  storage: StorageDriver
  /** One transaction as the tenant. */
  inTenant<R>(tenantId: string, work: (db: SqlClient) => Promise<R>): Promise<R>
  infected(tenantId: string, fileId: string, reason: string): Promise<void>
}

/**
 * Runs the scanning hook on a quarantined file: `clean` makes it available, `infected` deletes
 * it (row, quota, object). A hook that throws leaves it quarantined (the job retries; when the
 * retries are used up the file stays unavailable: failing closed). The hook runs outside any
 * transaction: a scan may take long, and holds no database connection meanwhile.
 */
export async function scanFile(deps: ScanDeps, tenantId: string, fileId: string): Promise<void> {
  const file = await deps
    .inTenant(tenantId, (db) => fileStore.get(db, tenantId, fileId))
    // Deleted meanwhile: nothing to scan. Anything else (the database) fails the job, to retry.
    .catch((error: unknown) => {
      if (isAcmeError(error) && error.statusCode === 404) return null
      throw error
    })
  if (file?.status !== 'quarantined') return
  const result = await deps.hook({
    tenantId,
    fileId,
    contentType: file.contentType,
    sizeBytes: file.sizeBytes,
    sha256: file.sha256,
    open: () => deps.storage.get(file.storageKey),
  })
  if (result.verdict === 'clean') {
    await deps.inTenant(tenantId, (db) => fileStore.setStatus(db, tenantId, fileId, 'available'))
    return
  }
  await deps.inTenant(tenantId, async (db) => {
    const removed = await fileStore.remove(db, tenantId, fileId)
    await fileStore.release(db, tenantId, removed.sizeBytes)
  })
  await deps.storage.delete(file.storageKey)
  await deps.infected(tenantId, fileId, result.verdict === 'infected' ? result.reason : 'refused')
}
