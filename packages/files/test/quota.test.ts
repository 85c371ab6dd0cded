import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fileStore } from '../src/services/store.js'
import type { SqlClient } from '../src/sql.js'
import { createFilesApp, type FilesTestApp, ownerOfNewTenant, sql } from './support/app.js'

describe('the files tables and the quota', () => {
  let t: FilesTestApp
  beforeAll(async () => {
    t = await createFilesApp()
  })
  afterAll(async () => t?.close())

  const inTenant = <R>(tenantId: string, work: (db: SqlClient) => Promise<R>) =>
    t.app.tenancy.tenants.run({ tenantId }, (tx) => work(tx as unknown as SqlClient))

  it('are tenant-owned under forced row-level security', async () => {
    const rows = await sql<{
      relname: string
      relrowsecurity: boolean
      relforcerowsecurity: boolean
    }>(
      t.db.owner.url,
      `SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
       WHERE relname IN ('files', 'file_usage') ORDER BY relname`,
    )
    expect(rows).toEqual([
      { relname: 'file_usage', relrowsecurity: true, relforcerowsecurity: true },
      { relname: 'files', relrowsecurity: true, relforcerowsecurity: true },
    ])
  })

  it('counts reservations atomically: concurrent ones never pass the limit together', async () => {
    const owner = await ownerOfNewTenant(t, 'quota@example.com', 'Quota')
    const limit = 1_000
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        inTenant(owner.tenantId, (db) => fileStore.reserve(db, owner.tenantId, 300, limit)),
      ),
    )
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(3)
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected')
    expect(refused).toHaveLength(7)
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'ACME_FILES_QUOTA_EXCEEDED',
      statusCode: 413,
    })
    expect(await inTenant(owner.tenantId, (db) => fileStore.usage(db, owner.tenantId))).toBe(900)

    await inTenant(owner.tenantId, (db) => fileStore.release(db, owner.tenantId, 300))
    expect(await inTenant(owner.tenantId, (db) => fileStore.usage(db, owner.tenantId))).toBe(600)
  })

  it('keeps one tenant’s usage and files out of another’s transactions', async () => {
    const a = await ownerOfNewTenant(t, 'usage-a@example.com', 'Usage A')
    const b = await ownerOfNewTenant(t, 'usage-b@example.com', 'Usage B')
    await inTenant(a.tenantId, (db) => fileStore.reserve(db, a.tenantId, 50, null))
    // B's transaction asking for A's row sees none (row-level security, not only the WHERE).
    const seen = await inTenant(b.tenantId, async (db) =>
      db.$queryRawUnsafe<unknown[]>('SELECT * FROM file_usage'),
    )
    expect(seen).toEqual([])
    await expect(
      inTenant(b.tenantId, (db) =>
        fileStore.insert(db, a.tenantId, {
          id: randomUUID(),
          ownerId: a.userId,
          storageKey: `${a.tenantId}/${randomUUID()}`,
          name: 'x.txt',
          sizeBytes: 1,
          contentType: 'text/plain',
          sha256: '0'.repeat(64),
          status: 'available',
        }),
      ),
    ).rejects.toThrow()
  })
})
