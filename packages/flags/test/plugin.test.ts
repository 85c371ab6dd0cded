import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlagChangeEvent } from '../src/index.js'
import {
  as,
  createFlagsApp,
  type FlagsTestApp,
  member,
  ownerQuery,
  tenantOf,
} from './support/app.js'

let t: FlagsTestApp
const events: FlagChangeEvent[] = []

beforeAll(async () => {
  t = await createFlagsApp(
    {
      flags: [
        { key: 'uploads', type: 'boolean', defaultValue: false, description: 'File uploads' },
        { key: 'beta-reports', type: 'boolean', defaultValue: false },
        { key: 'theme', type: 'string', defaultValue: 'light', clientVisible: true },
      ],
    },
    {
      label: 'flagsplugin',
      tenancy: {
        plans: {
          starter: { label: 'Starter', requestsPerMinute: null, seats: null, storageBytes: null },
          uploader: {
            label: 'Uploader',
            requestsPerMinute: null,
            seats: null,
            storageBytes: null,
            entitlements: ['uploads'],
          },
        },
      },
      routes: (app) => {
        app.events.on('flag.changed', (event) => {
          events.push(event.payload)
        })
        app.get(
          '/probe',
          { config: { auth: 'required', tenant: 'required', permission: false } },
          async (request) => ({
            uploads: request.flags.evaluate('uploads'),
            theme: request.flags.value('theme'),
          }),
        )
        app.get(
          '/reports',
          {
            config: {
              auth: 'required',
              tenant: 'required',
              permission: false,
              flag: 'beta-reports',
            },
          },
          async () => ({ reports: [] }),
        )
      },
    },
  )
})
afterAll(async () => {
  await t?.close()
})

const probe = async (who: { token: string }, tenantId: string) => {
  const response = await t.app.inject({ method: 'GET', url: '/probe', headers: as(who, tenantId) })
  expect(response.statusCode, response.body).toBe(200)
  return response.json<{
    uploads: { value: unknown; reason: string; variant: string }
    theme: string
  }>()
}

describe('startup', () => {
  it('creates the flags the code declares, and is ready once they are loaded', async () => {
    const rows = await ownerQuery<{ key: string }>(t, 'SELECT key FROM flags ORDER BY key')
    expect(rows.map((row) => row.key)).toEqual(['beta-reports', 'theme', 'uploads'])
    expect(t.app.flags.status()).toMatchObject({
      state: 'ready',
      environment: 'production',
      listening: true,
    })
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' })
    expect(ready.json().checks.flags).toMatchObject({ status: 'up' })
  })

  it('a bad option fails ready() naming the option', async () => {
    await expect(
      createFlagsApp({ environment: 'Not An Env' }, { label: 'flagsbad' }),
    ).rejects.toThrow(/environment/)
    await expect(
      createFlagsApp(
        { flags: [{ key: 'x', type: 'number', defaultValue: 'one' }] },
        { label: 'flagsbad' },
      ),
    ).rejects.toThrow(/flags\[0\] \(x\): defaultValue/)
  })
})

describe('request.flags', () => {
  it('a plan change of a tenant changes its entitlement-driven flags on the next request', async () => {
    // The test app's "uploader" plan holds the "uploads" entitlement; "starter" none.
    const { tenantId, owner } = await tenantOf(t, 'planned')
    expect((await probe(owner, tenantId)).uploads).toMatchObject({
      value: false,
      reason: 'DEFAULT',
    })
    await t.app.tenancy.tenants.setPlan(tenantId, 'uploader')
    expect((await probe(owner, tenantId)).uploads).toMatchObject({
      value: true,
      reason: 'PLAN',
      variant: 'plan:uploader',
    })
    await t.app.tenancy.tenants.setPlan(tenantId, 'starter')
    expect((await probe(owner, tenantId)).uploads).toMatchObject({
      value: false,
      reason: 'DEFAULT',
    })
  })

  it('a change through app.flags.admin is served by the next request, recorded and announced', async () => {
    const { tenantId, owner } = await tenantOf(t, 'themed')
    const before = t.app.flags.status().version
    await t.app.flags.admin.setOverride({ userId: owner.userId }, 'theme', tenantId, 'dark')
    expect((await probe(owner, tenantId)).theme).toBe('dark')
    expect(t.app.flags.status().version).toBe(before + 1)
    const history = await ownerQuery<{
      entity: string
      action: string
      after: unknown
      version: number
      actor_id: string
    }>(
      t,
      "SELECT entity, action, after, version, actor_id FROM flag_changes WHERE key = 'theme' AND tenant_id = $1",
      [tenantId],
    )
    expect(history).toEqual([
      {
        entity: 'override',
        action: 'created',
        after: 'dark',
        version: before + 1,
        actor_id: owner.userId,
      },
    ])
    expect(events.at(-1)).toMatchObject({
      entity: 'override',
      flagKey: 'theme',
      tenantId,
      action: 'created',
      before: null,
      after: 'dark',
      by: owner.userId,
      version: before + 1,
    })
  })

  it('refuses an override that does not fit the type, and changes nothing', async () => {
    const { tenantId } = await tenantOf(t, 'wrong')
    const version = t.app.flags.status().version
    await expect(
      t.app.flags.admin.setOverride({ userId: null }, 'uploads', tenantId, 'yes'),
    ).rejects.toMatchObject({ code: 'ACME_FLAGS_INVALID_VALUE' })
    expect(t.app.flags.status().version).toBe(version)
    expect(
      await ownerQuery(t, 'SELECT 1 FROM flag_tenant_overrides WHERE tenant_id = $1', [tenantId]),
    ).toEqual([])
  })
})

describe('config.flag', () => {
  it('answers 404 while the flag is off for the tenant, and the route once it is on', async () => {
    const { tenantId, owner } = await tenantOf(t, 'reporting')
    const other = await tenantOf(t, 'not-reporting')
    const reports = (who: { token: string }, tenant: string) =>
      t.app.inject({ method: 'GET', url: '/reports', headers: as(who, tenant) })
    const off = await reports(owner, tenantId)
    expect(off.statusCode).toBe(404)
    expect(off.json().code).toBe('ACME_CORE_ROUTE_NOT_FOUND')
    await t.app.flags.admin.setOverride({ userId: null }, 'beta-reports', tenantId, true)
    expect((await reports(owner, tenantId)).statusCode).toBe(200)
    const viewer = await member(t, tenantId, 'reporting-viewer', ['viewer'])
    expect((await reports(viewer, tenantId)).statusCode).toBe(200)
    expect((await reports(other.owner, other.tenantId)).statusCode).toBe(404)
  })

  it('refuses to start when a route names a flag the code does not declare', async () => {
    await expect(
      createFlagsApp(
        {},
        {
          label: 'flagsbad',
          routes: (app) => {
            app.get(
              '/x',
              { config: { auth: 'required', permission: false, flag: 'typo' } },
              async () => ({}),
            )
          },
        },
      ),
    ).rejects.toThrow(/config.flag "typo"/)
  })
})
