import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  as,
  createFlagsApp,
  expectProblem,
  type FlagsTestApp,
  member,
  ownerQuery,
  tenantOf,
  type User,
} from './support/app.js'

const operatorTenantId = randomUUID()
let t: FlagsTestApp
let operator: User
let operatorViewer: User
let customer: { tenantId: string; owner: User }

beforeAll(async () => {
  t = await createFlagsApp(
    {
      operatorTenantId,
      flags: [
        {
          key: 'theme',
          type: 'string',
          defaultValue: 'light',
          clientVisible: true,
          tenantEditable: true,
        },
        { key: 'beta-reports', type: 'boolean', defaultValue: false },
      ],
    },
    { label: 'flagsroutes' },
  )
  // The operators' tenant, made with a known id (the option names it before it exists).
  await ownerQuery(
    t,
    "INSERT INTO tenants (id, name, slug, plan, updated_at) VALUES ($1, 'Operators', $2, 'starter', now())",
    [operatorTenantId, `operators-${operatorTenantId.slice(0, 8)}`],
  )
  operator = await member(t, operatorTenantId, 'operator', ['admin'])
  operatorViewer = await member(t, operatorTenantId, 'operator-viewer', ['viewer'])
  customer = await tenantOf(t, 'customer')
})
afterAll(async () => {
  await t?.close()
})

const call = (
  who: User | null,
  tenantId: string | undefined,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  payload?: unknown,
): Promise<LightMyRequestResponse> =>
  t.app.inject({
    method,
    url,
    headers: who ? as(who, tenantId) : {},
    ...(payload === undefined ? {} : { payload: payload as object }),
  })
const asOperator = (
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  payload?: unknown,
) => call(operator, operatorTenantId, method, url, payload)

describe("operators' routes", () => {
  it('create, change, kill, explain and read the history of a flag', async () => {
    const created = await asOperator('POST', '/flags/definitions', {
      key: 'new-checkout',
      type: 'string',
      defaultValue: 'old',
      rules: [
        {
          id: 'fr',
          conditions: [{ attribute: 'country', operator: 'eq', values: ['FR'] }],
          value: 'new',
        },
      ],
      rollout: { percentage: 100, value: 'rolled' },
    })
    expect(created.statusCode, created.body).toBe(201)
    expect(created.json()).toMatchObject({
      key: 'new-checkout',
      enabled: true,
      rollout: { stickiness: 'tenant', seed: '' },
    })
    expect(t.app.flags.evaluate('new-checkout', { tenantId: customer.tenantId })).toMatchObject({
      value: 'rolled',
      reason: 'SPLIT',
    })

    const override = await asOperator(
      'PUT',
      `/flags/definitions/new-checkout/overrides/${customer.tenantId}`,
      { value: 'mine' },
    )
    expect(override.statusCode, override.body).toBe(200)
    const explained = await asOperator(
      'GET',
      `/flags/definitions/new-checkout/explain?tenantId=${customer.tenantId}`,
    )
    expect(explained.statusCode, explained.body).toBe(200)
    expect(explained.json()).toMatchObject({
      evaluation: { value: 'mine', reason: 'OVERRIDE' },
      context: { tenantId: customer.tenantId, plan: 'starter' },
    })
    expect(explained.json().steps.map((step: { layer: string }) => step.layer)).toEqual([
      'kill-switch',
      'plan',
      'override',
    ])

    const killed = await asOperator('PATCH', '/flags/definitions/new-checkout', { enabled: false })
    expect(killed.statusCode, killed.body).toBe(200)
    expect(killed.json().rules).toHaveLength(1)
    expect(t.app.flags.evaluate('new-checkout', { tenantId: customer.tenantId })).toMatchObject({
      value: 'old',
      reason: 'DISABLED',
    })

    const history = await asOperator('GET', '/flags/history?key=new-checkout')
    expect(history.statusCode, history.body).toBe(200)
    expect(
      history
        .json()
        .items.map((item: { entity: string; action: string }) => `${item.entity}:${item.action}`),
    ).toEqual(['flag:updated', 'override:created', 'flag:created'])
    expect(history.json().items[0]).toMatchObject({
      before: { enabled: true },
      after: { enabled: false },
      actorId: operator.userId,
    })
  })

  it('refuses a definition that does not hold together, with its problems, and stores nothing', async () => {
    const version = t.app.flags.status().version
    const wrong = await asOperator('POST', '/flags/definitions', {
      key: 'broken',
      type: 'boolean',
      defaultValue: 'yes',
      prerequisites: [{ key: 'nowhere', value: true }],
    })
    expectProblem(wrong, 400, 'ACME_FLAGS_INVALID_DEFINITION')
    expect(wrong.json().problems).toEqual([
      'defaultValue: Invalid input: expected boolean, received string for a boolean flag',
      'broken: prerequisite "nowhere" is not a flag',
    ])
    expect(t.app.flags.status().version).toBe(version)
    expect(await ownerQuery(t, "SELECT 1 FROM flags WHERE key = 'broken'")).toEqual([])
  })

  it('refuses a prerequisite cycle, and deleting a flag another requires', async () => {
    for (const key of ['cycle-a', 'cycle-b']) {
      expect(
        (
          await asOperator('POST', '/flags/definitions', {
            key,
            type: 'boolean',
            defaultValue: false,
          })
        ).statusCode,
      ).toBe(201)
    }
    const ab = await asOperator('PATCH', '/flags/definitions/cycle-a', {
      prerequisites: [{ key: 'cycle-b', value: true }],
    })
    expect(ab.statusCode, ab.body).toBe(200)
    const ba = await asOperator('PATCH', '/flags/definitions/cycle-b', {
      prerequisites: [{ key: 'cycle-a', value: true }],
    })
    expectProblem(ba, 400, 'ACME_FLAGS_INVALID_DEFINITION')
    expect(ba.json().problems).toEqual(['prerequisites form a cycle: cycle-a → cycle-b → cycle-a'])
    expectProblem(
      await asOperator('DELETE', '/flags/definitions/cycle-b'),
      409,
      'ACME_FLAGS_IN_USE',
    )
    expect((await asOperator('DELETE', '/flags/definitions/cycle-a')).statusCode).toBe(204)
    expect((await asOperator('DELETE', '/flags/definitions/cycle-b')).statusCode).toBe(204)
  })

  it('answers malformed input with 400 and unknown things with 404', async () => {
    expectProblem(
      await asOperator('POST', '/flags/definitions', {
        key: 'Bad Key',
        type: 'boolean',
        defaultValue: false,
      }),
      400,
      'ACME_CORE_VALIDATION_FAILED',
    )
    expectProblem(
      await asOperator('PATCH', '/flags/definitions/theme', { type: 'number' }),
      400,
      'ACME_CORE_VALIDATION_FAILED',
    )
    expectProblem(
      await asOperator('GET', '/flags/definitions/nope'),
      404,
      'ACME_FLAGS_FLAG_NOT_FOUND',
    )
    expectProblem(
      await asOperator('PUT', `/flags/definitions/theme/overrides/${randomUUID()}`, {
        value: 'dark',
      }),
      404,
      'ACME_TENANCY_TENANT_NOT_FOUND',
    )
    expectProblem(
      await asOperator('PUT', `/flags/definitions/theme/overrides/${customer.tenantId}`, {
        value: 7,
      }),
      400,
      'ACME_FLAGS_INVALID_VALUE',
    )
  })

  it('segments: created, named by a rule, refused deletion while in use', async () => {
    const segment = await asOperator('POST', '/flags/segments', {
      key: 'big-accounts',
      conditions: [{ attribute: 'seats', operator: 'gte', values: [100] }],
    })
    expect(segment.statusCode, segment.body).toBe(201)
    const flag = await asOperator('POST', '/flags/definitions', {
      key: 'white-glove',
      type: 'boolean',
      defaultValue: false,
      rules: [
        {
          id: 'big',
          conditions: [{ operator: 'in_segment', values: ['big-accounts'] }],
          value: true,
        },
      ],
    })
    expect(flag.statusCode, flag.body).toBe(201)
    expect(t.app.flags.isEnabled('white-glove', { attributes: { seats: 150 } })).toBe(true)
    expectProblem(
      await asOperator('DELETE', '/flags/segments/big-accounts'),
      409,
      'ACME_FLAGS_IN_USE',
    )
  })

  it('are refused outside the operators tenant, and without the permission', async () => {
    expectProblem(
      await call(customer.owner, customer.tenantId, 'GET', '/flags/definitions'),
      403,
      'ACME_FLAGS_OPERATORS_ONLY',
    )
    expectProblem(
      await call(customer.owner, customer.tenantId, 'PATCH', '/flags/definitions/beta-reports', {
        enabled: false,
      }),
      403,
      'ACME_FLAGS_OPERATORS_ONLY',
    )
    expect(
      (await call(operatorViewer, operatorTenantId, 'GET', '/flags/definitions')).statusCode,
    ).toBe(403)
    expectProblem(
      await call(operatorViewer, operatorTenantId, 'PATCH', '/flags/definitions/beta-reports', {
        enabled: false,
      }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
    expect((await call(null, operatorTenantId, 'GET', '/flags/definitions')).statusCode).toBe(401)
  })
})

describe('hostile input', () => {
  it('answers 400 with nothing stored, never 500', async () => {
    const version = t.app.flags.status().version
    let deep: unknown = 'bottom'
    for (let level = 0; level < 40; level++) deep = { nested: deep }
    const cases: unknown[] = [
      { key: 'deep', type: 'json', defaultValue: deep },
      { key: 'nul', type: 'string', defaultValue: 'a\u0000b' },
      { key: 'proto', type: 'json', defaultValue: JSON.parse('{"__proto__": {"admin": true}}') },
      { key: 'bad-schema', type: 'json', defaultValue: 1, schema: { type: 'no-such-type' } },
      { key: 'x'.repeat(101), type: 'boolean', defaultValue: false },
      {
        key: 'pct',
        type: 'boolean',
        defaultValue: false,
        rollout: { percentage: 100.5, value: true },
      },
      {
        key: 'pct2',
        type: 'boolean',
        defaultValue: false,
        rollout: { percentage: 12.345, value: true },
      },
      {
        key: 'ops',
        type: 'boolean',
        defaultValue: false,
        rules: [
          {
            id: 'r',
            conditions: [{ attribute: 'a', operator: 'before', values: [] }],
            value: true,
          },
        ],
      },
    ]
    for (const payload of cases) {
      const response = await asOperator('POST', '/flags/definitions', payload)
      expect(response.statusCode, `${JSON.stringify(payload).slice(0, 80)}: ${response.body}`).toBe(
        400,
      )
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
    }
    const explain = await asOperator(
      'GET',
      '/flags/definitions/theme/explain?attributes=%7Bnot%20json',
    )
    expectProblem(explain, 400, 'ACME_FLAGS_INVALID_VALUE')
    expect(t.app.flags.status().version).toBe(version)
    expect(
      await ownerQuery(
        t,
        "SELECT key FROM flags WHERE key IN ('deep', 'nul', 'proto', 'bad-schema', 'pct', 'pct2', 'ops')",
      ),
    ).toEqual([])
  })
})

describe("tenant admins' routes", () => {
  it("set their own tenant's value of a tenant-editable flag, and nothing else", async () => {
    const other = await tenantOf(t, 'other')
    const set = await call(customer.owner, customer.tenantId, 'PUT', '/flags/tenant/theme', {
      value: 'dark',
    })
    expect(set.statusCode, set.body).toBe(200)
    const rows = await ownerQuery<{ tenant_id: string; value: unknown }>(
      t,
      "SELECT o.tenant_id, o.value FROM flag_tenant_overrides o JOIN flags f ON f.id = o.flag_id WHERE f.key = 'theme'",
    )
    expect(rows).toEqual([{ tenant_id: customer.tenantId, value: 'dark' }])
    expect(t.app.flags.evaluate('theme', { tenantId: other.tenantId }).value).toBe('light')

    expectProblem(
      await call(customer.owner, customer.tenantId, 'PUT', '/flags/tenant/beta-reports', {
        value: true,
      }),
      403,
      'ACME_FLAGS_NOT_TENANT_EDITABLE',
    )
    const viewer = await member(t, customer.tenantId, 'customer-viewer', ['viewer'])
    expectProblem(
      await call(viewer, customer.tenantId, 'PUT', '/flags/tenant/theme', { value: 'light' }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )

    const listed = await call(customer.owner, customer.tenantId, 'GET', '/flags/tenant')
    expect(listed.json().items).toEqual([
      expect.objectContaining({
        key: 'theme',
        override: { value: 'dark' },
        evaluation: expect.objectContaining({ value: 'dark', reason: 'OVERRIDE' }),
      }),
    ])
    // The tenant's history holds its own overrides only.
    const history = await call(customer.owner, customer.tenantId, 'GET', '/flags/history')
    expect(
      history
        .json()
        .items.every((item: { tenantId: string }) => item.tenantId === customer.tenantId),
    ).toBe(true)
    expect(history.json().items.length).toBeGreaterThan(0)
  })
})

describe('GET /flags/evaluated', () => {
  it('lists only client-visible flags, evaluated for the caller', async () => {
    const response = await call(customer.owner, customer.tenantId, 'GET', '/flags/evaluated')
    expect(response.statusCode, response.body).toBe(200)
    expect(Object.keys(response.json().flags)).toEqual(['theme'])
    expect(response.json()).toMatchObject({
      stale: false,
      flags: { theme: { value: 'dark', reason: 'OVERRIDE' } },
    })
    const anonymous = await call(null, undefined, 'GET', '/flags/evaluated')
    expect(anonymous.json().flags).toEqual({
      theme: { value: 'light', variant: 'default', reason: 'DEFAULT' },
    })
  })
})

describe('OpenAPI', () => {
  it('documents every flags route with its tag', async () => {
    const spec = await t.app.inject({ method: 'GET', url: '/docs/openapi.json' })
    expect(spec.statusCode).toBe(200)
    const paths = spec.json().paths as Record<
      string,
      Record<string, { tags?: string[]; description?: string }>
    >
    const flagPaths = Object.keys(paths).filter((path) => path.startsWith('/flags'))
    expect(flagPaths.length).toBeGreaterThanOrEqual(10)
    for (const path of flagPaths) {
      for (const operation of Object.values(paths[path] ?? {})) {
        expect(operation.tags).toContain('flags')
        expect(operation.description).toMatch(/\w{3,}/)
      }
    }
  })
})
