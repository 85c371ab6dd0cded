import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createTenancyApp, createTenancyDatabase, type TenancyDatabase } from './support/app.js'

let db: TenancyDatabase

beforeAll(async () => {
  db = await createTenancyDatabase('doctorstart')
})

afterAll(async () => {
  await db?.drop()
})

it('refuses to start when the app connects as a superuser', async () => {
  const asOwner: TenancyDatabase = { ...db, app: db.owner, drop: async () => undefined }
  await expect(createTenancyApp({}, { database: asOwner })).rejects.toThrow(/ROLE_IS_SUPERUSER/)
})

it('refuses to start when a tenant-owned table lost its forced row-level security', async () => {
  const admin = new pg.Client({ connectionString: db.owner.url })
  await admin.connect()
  try {
    await admin.query('ALTER TABLE notes NO FORCE ROW LEVEL SECURITY')
    await expect(createTenancyApp({}, { database: db })).rejects.toThrow(/RLS_NOT_FORCED notes/)
    const warned = await createTenancyApp({ doctor: 'warn' }, { database: db })
    expect(warned.rawLogs()).toMatch(/RLS_NOT_FORCED/)
    await warned.close()
  } finally {
    await admin.query('ALTER TABLE notes FORCE ROW LEVEL SECURITY')
    await admin.end()
  }
})

it('starts on a sound setup', async () => {
  const app = await createTenancyApp({}, { database: db })
  expect(app.app.tenancy.rls).toBe(true)
  await app.close()
})
