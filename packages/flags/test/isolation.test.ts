import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFlagsApp, type FlagsTestApp, ownerQuery, tenantOf } from './support/app.js'

let t: FlagsTestApp
let a: string
let b: string
let flagId: string

beforeAll(async () => {
  t = await createFlagsApp(
    { flags: [{ key: 'theme', type: 'string', defaultValue: 'light', tenantEditable: true }] },
    { label: 'flagsrls' },
  )
  a = (await tenantOf(t, 'rls-a')).tenantId
  b = (await tenantOf(t, 'rls-b')).tenantId
  await t.app.flags.admin.setOverride({ userId: null }, 'theme', a, 'dark')
  await t.app.flags.admin.setOverride({ userId: null }, 'theme', b, 'blue')
  const [row] = await ownerQuery<{ id: string }>(t, "SELECT id FROM flags WHERE key = 'theme'")
  flagId = row?.id ?? ''
})
afterAll(async () => {
  await t?.close()
})

/** Runs `work` as the app's database role in one transaction, as tenant `tenantId` when given. */
async function asApp<R>(
  tenantId: string | null,
  work: (client: pg.Client) => Promise<R>,
): Promise<R> {
  const client = new pg.Client({ connectionString: t.db.app.url })
  await client.connect()
  try {
    await client.query('BEGIN')
    if (tenantId) await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId])
    const result = await work(client)
    await client.query('ROLLBACK')
    return result
  } finally {
    await client.end()
  }
}

describe('row-level security of overrides and their history, as the app role', () => {
  it("a tenant's transaction sees only its own overrides and history", async () => {
    const seen = await asApp(a, async (client) => ({
      overrides: (await client.query('SELECT tenant_id, value FROM flag_tenant_overrides')).rows,
      history: (
        await client.query("SELECT DISTINCT tenant_id FROM flag_changes WHERE entity = 'override'")
      ).rows,
    }))
    expect(seen.overrides).toEqual([{ tenant_id: a, value: 'dark' }])
    expect(seen.history).toEqual([{ tenant_id: a }])
  })

  it("a tenant's transaction can neither write nor change another tenant's override", async () => {
    await expect(
      asApp(a, (client) =>
        client.query(
          'INSERT INTO flag_tenant_overrides (flag_id, tenant_id, value, updated_at) VALUES ($1, $2, \'"x"\', now())',
          [flagId, b],
        ),
      ),
    ).rejects.toMatchObject({ code: '42501' })
    const updated = await asApp(a, (client) =>
      client.query('UPDATE flag_tenant_overrides SET value = \'"x"\' WHERE tenant_id = $1', [b]),
    )
    expect(updated.rowCount).toBe(0)
    const deleted = await asApp(a, (client) =>
      client.query('DELETE FROM flag_tenant_overrides WHERE tenant_id = $1', [b]),
    )
    expect(deleted.rowCount).toBe(0)
  })

  it("the app's own scope (no tenant: the loader, the operators) sees every override", async () => {
    const rows = await asApp(
      null,
      async (client) =>
        (await client.query('SELECT tenant_id FROM flag_tenant_overrides ORDER BY tenant_id')).rows,
    )
    expect(rows.map((row) => row.tenant_id).sort()).toEqual([a, b].sort())
  })

  it('the policies are forced, so the table owner is bound too', async () => {
    const tables = await ownerQuery<{
      relname: string
      relrowsecurity: boolean
      relforcerowsecurity: boolean
    }>(
      t,
      "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname IN ('flag_tenant_overrides', 'flag_changes') ORDER BY relname",
    )
    expect(tables).toEqual([
      { relname: 'flag_changes', relrowsecurity: true, relforcerowsecurity: true },
      { relname: 'flag_tenant_overrides', relrowsecurity: true, relforcerowsecurity: true },
    ])
  })
})
