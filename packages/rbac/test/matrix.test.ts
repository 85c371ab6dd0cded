import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RbacTestApp } from './support/app.js'
import {
  type Call,
  call,
  createDocsApp,
  expectProblem,
  member,
  ownerQuery,
  type Team,
  team,
  type User,
} from './support/fixtures.js'

/**
 * AZ-03 for rbac: every guarded route of tenancy, rbac and the app, called by each system role
 * (docs-routes.ts: the default roles, with the app's `docs` in place of `projects`), and with no
 * token. What each role is expected to get is written out below, not derived from the roles.
 */

type Role = 'owner' | 'admin' | 'member' | 'viewer'
/** Weakest first: a denied call must not have been made possible by an earlier allowed one. */
const ROLES: readonly Role[] = ['viewer', 'member', 'admin', 'owner']

interface Row {
  /** `METHOD /openapi/{path}` */
  route: string
  /** What the route declares (`x-permissions` in its OpenAPI operation). */
  permission: string
  /** The status each role gets: 2xx allowed, 403 denied. */
  expected: Record<Role, number>
  /** Builds the call for a role (creating what it acts on), and checks what is stored after it. */
  prepare(
    role: Role,
  ): Promise<{ request: Call; tenantId?: string; stored(allowed: boolean): Promise<void> }>
  /** A 403 from the handler (own-scope check on the record) rather than from the route guard. */
  handlerDenies?: Role[]
  /** Whose users call it (default: the main tenant's). */
  team?: () => Team
}

const ALL = (status: number): Record<Role, number> => ({
  owner: status,
  admin: status,
  member: status,
  viewer: status,
})
const MANAGERS = (status: number): Record<Role, number> => ({
  owner: status,
  admin: status,
  member: 403,
  viewer: 403,
})

let t: RbacTestApp
let main: Team
/** Only for DELETE /tenants/:id: the owner's call deletes it. */
let doomed: Team
let serial = 0
const next = (name: string) => `${name}-${++serial}`
const who = (fixture: Team, role: Role): User => fixture[role]

async function customRole(tenantId: string, owner: User): Promise<{ id: string; name: string }> {
  const response = await call(t, owner, tenantId, {
    method: 'POST',
    url: '/rbac/roles',
    payload: { name: next('custom'), permissions: ['docs:read'] },
  })
  expect(response.statusCode, response.body).toBe(201)
  return response.json()
}

async function invitation(tenantId: string, owner: User): Promise<string> {
  const response = await call(t, owner, tenantId, {
    method: 'POST',
    url: `/tenants/${tenantId}/invitations`,
    payload: { email: `${next('invitee')}@elsewhere.test`, roles: ['viewer'] },
  })
  expect(response.statusCode, response.body).toBe(201)
  return response.json().id
}

async function doc(tenantId: string, ownerId: string, title: string): Promise<string> {
  const [row] = await ownerQuery<{ id: string }>(
    t,
    'INSERT INTO docs (id, tenant_id, owner_id, title) VALUES (gen_random_uuid(), $1, $2, $3) RETURNING id',
    [tenantId, ownerId, title],
  )
  return row?.id ?? ''
}

const rolesOf = async (tenantId: string, userId: string) =>
  (
    await ownerQuery<{ roles: string[] }>(
      t,
      'SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2',
      [tenantId, userId],
    )
  )[0]?.roles ?? null

const MATRIX: Row[] = [
  {
    route: 'PATCH /tenants/{tenantId}',
    permission: 'tenants:manage',
    expected: MANAGERS(200),
    async prepare(role) {
      const name = next(`renamed by ${role}`)
      return {
        request: { method: 'PATCH', url: `/tenants/${main.tenantId}`, payload: { name } },
        async stored(allowed) {
          const [row] = await ownerQuery<{ name: string }>(
            t,
            'SELECT name FROM tenants WHERE id = $1',
            [main.tenantId],
          )
          if (allowed) expect(row?.name).toBe(name)
          else expect(row?.name).not.toBe(name)
        },
      }
    },
  },
  {
    route: 'DELETE /tenants/{tenantId}',
    permission: 'tenants:delete',
    expected: { owner: 204, admin: 403, member: 403, viewer: 403 },
    team: () => doomed,
    async prepare() {
      return {
        request: { method: 'DELETE', url: `/tenants/${doomed.tenantId}` },
        async stored(allowed) {
          const rows = await ownerQuery(t, 'SELECT id FROM tenants WHERE id = $1', [
            doomed.tenantId,
          ])
          expect(rows).toHaveLength(allowed ? 0 : 1)
        },
      }
    },
  },
  {
    route: 'GET /tenants/{tenantId}/members',
    permission: 'members:read',
    expected: ALL(200),
    async prepare() {
      return {
        request: { url: `/tenants/${main.tenantId}/members` },
        async stored() {},
      }
    },
  },
  {
    route: 'PATCH /tenants/{tenantId}/members/{userId}',
    permission: 'members:manage',
    expected: MANAGERS(200),
    async prepare(role) {
      const target = await member(t, main.tenantId, `patched-by-${role}`, ['viewer'])
      return {
        request: {
          method: 'PATCH',
          url: `/tenants/${main.tenantId}/members/${target.userId}`,
          payload: { roles: ['member'] },
        },
        async stored(allowed) {
          expect(await rolesOf(main.tenantId, target.userId)).toEqual(
            allowed ? ['member'] : ['viewer'],
          )
        },
      }
    },
  },
  {
    route: 'DELETE /tenants/{tenantId}/members/{userId}',
    permission: 'members:remove',
    expected: MANAGERS(204),
    async prepare(role) {
      const target = await member(t, main.tenantId, `removed-by-${role}`, ['viewer'])
      return {
        request: { method: 'DELETE', url: `/tenants/${main.tenantId}/members/${target.userId}` },
        async stored(allowed) {
          expect(await rolesOf(main.tenantId, target.userId)).toEqual(allowed ? null : ['viewer'])
        },
      }
    },
  },
  {
    route: 'POST /tenants/{tenantId}/invitations',
    permission: 'members:invite',
    expected: MANAGERS(201),
    async prepare(role) {
      const address = `${next(`invited-by-${role}`)}@elsewhere.test`
      return {
        request: {
          method: 'POST',
          url: `/tenants/${main.tenantId}/invitations`,
          payload: { email: address, roles: ['viewer'] },
        },
        async stored(allowed) {
          const rows = await ownerQuery(t, 'SELECT id FROM invitations WHERE email = $1', [address])
          expect(rows).toHaveLength(allowed ? 1 : 0)
        },
      }
    },
  },
  {
    route: 'GET /tenants/{tenantId}/invitations',
    permission: 'members:invite',
    expected: MANAGERS(200),
    async prepare() {
      return { request: { url: `/tenants/${main.tenantId}/invitations` }, async stored() {} }
    },
  },
  {
    route: 'DELETE /tenants/{tenantId}/invitations/{invitationId}',
    permission: 'members:invite',
    expected: MANAGERS(204),
    async prepare() {
      const id = await invitation(main.tenantId, main.owner)
      return {
        request: { method: 'DELETE', url: `/tenants/${main.tenantId}/invitations/${id}` },
        async stored(allowed) {
          const [row] = await ownerQuery<{ revoked_at: Date | null }>(
            t,
            'SELECT revoked_at FROM invitations WHERE id = $1',
            [id],
          )
          if (allowed) expect(row?.revoked_at).toBeInstanceOf(Date)
          else expect(row?.revoked_at).toBeNull()
        },
      }
    },
  },
  {
    route: 'POST /tenants/{tenantId}/api-keys',
    permission: 'api-keys:manage',
    expected: MANAGERS(201),
    async prepare(role) {
      const name = next(`key of ${role}`)
      return {
        request: {
          method: 'POST',
          url: `/tenants/${main.tenantId}/api-keys`,
          payload: { name, scopes: ['docs:read'] },
        },
        async stored(allowed) {
          const rows = await ownerQuery(
            t,
            'SELECT owner_id, tenant_id FROM api_keys WHERE name = $1',
            [name],
          )
          expect(rows).toEqual(
            allowed ? [{ owner_id: who(main, role).userId, tenant_id: main.tenantId }] : [],
          )
        },
      }
    },
  },
  {
    route: 'GET /tenants/{tenantId}/api-keys',
    permission: 'api-keys:manage',
    expected: MANAGERS(200),
    async prepare() {
      return { request: { url: `/tenants/${main.tenantId}/api-keys` }, async stored() {} }
    },
  },
  {
    route: 'DELETE /tenants/{tenantId}/api-keys/{keyId}',
    permission: 'api-keys:manage',
    expected: MANAGERS(204),
    async prepare() {
      const { record } = await t.app.auth.apiKeys.create(main.owner.userId, {
        name: next('revocable'),
        scopes: ['docs:read'],
        columns: { tenantId: main.tenantId },
      })
      return {
        request: { method: 'DELETE', url: `/tenants/${main.tenantId}/api-keys/${record.id}` },
        async stored(allowed) {
          const [row] = await ownerQuery<{ revoked_at: Date | null }>(
            t,
            'SELECT revoked_at FROM api_keys WHERE id = $1',
            [record.id],
          )
          if (allowed) expect(row?.revoked_at).toBeInstanceOf(Date)
          else expect(row?.revoked_at).toBeNull()
        },
      }
    },
  },
  {
    route: 'GET /rbac/roles',
    permission: 'roles:read',
    expected: MANAGERS(200),
    async prepare() {
      return { request: { url: '/rbac/roles' }, tenantId: main.tenantId, async stored() {} }
    },
  },
  {
    route: 'GET /rbac/roles/{roleId}',
    permission: 'roles:read',
    expected: MANAGERS(200),
    async prepare() {
      const role = await customRole(main.tenantId, main.owner)
      return {
        request: { url: `/rbac/roles/${role.id}` },
        tenantId: main.tenantId,
        async stored() {},
      }
    },
  },
  {
    route: 'POST /rbac/roles',
    permission: 'roles:manage',
    expected: MANAGERS(201),
    async prepare(role) {
      const name = next(`made-by-${role}`)
      return {
        request: {
          method: 'POST',
          url: '/rbac/roles',
          payload: { name, permissions: ['docs:read'], inherits: 'viewer' },
        },
        tenantId: main.tenantId,
        async stored(allowed) {
          const rows = await ownerQuery(t, 'SELECT tenant_id FROM rbac_roles WHERE name = $1', [
            name,
          ])
          expect(rows).toEqual(allowed ? [{ tenant_id: main.tenantId }] : [])
        },
      }
    },
  },
  {
    route: 'PATCH /rbac/roles/{roleId}',
    permission: 'roles:manage',
    expected: MANAGERS(200),
    async prepare(role) {
      const custom = await customRole(main.tenantId, main.owner)
      const description = `changed by ${role}`
      return {
        request: { method: 'PATCH', url: `/rbac/roles/${custom.id}`, payload: { description } },
        tenantId: main.tenantId,
        async stored(allowed) {
          const [row] = await ownerQuery<{ description: string | null }>(
            t,
            'SELECT description FROM rbac_roles WHERE id = $1',
            [custom.id],
          )
          expect(row?.description ?? null).toBe(allowed ? description : null)
        },
      }
    },
  },
  {
    route: 'DELETE /rbac/roles/{roleId}',
    permission: 'roles:manage',
    expected: MANAGERS(204),
    async prepare() {
      const custom = await customRole(main.tenantId, main.owner)
      return {
        request: { method: 'DELETE', url: `/rbac/roles/${custom.id}` },
        tenantId: main.tenantId,
        async stored(allowed) {
          const rows = await ownerQuery(t, 'SELECT id FROM rbac_roles WHERE id = $1', [custom.id])
          expect(rows).toHaveLength(allowed ? 0 : 1)
        },
      }
    },
  },
  {
    route: 'PUT /rbac/members/{userId}/roles',
    permission: 'members:manage',
    expected: MANAGERS(200),
    async prepare(role) {
      const target = await member(t, main.tenantId, `assigned-by-${role}`, ['viewer'])
      return {
        request: {
          method: 'PUT',
          url: `/rbac/members/${target.userId}/roles`,
          payload: { roles: ['member'] },
        },
        tenantId: main.tenantId,
        async stored(allowed) {
          expect(await rolesOf(main.tenantId, target.userId)).toEqual(
            allowed ? ['member'] : ['viewer'],
          )
        },
      }
    },
  },
  {
    route: 'GET /docs',
    permission: 'docs:read',
    expected: ALL(200),
    async prepare() {
      return { request: { url: '/docs' }, tenantId: main.tenantId, async stored() {} }
    },
  },
  {
    route: 'POST /docs',
    permission: 'docs:write:own',
    expected: { owner: 201, admin: 201, member: 201, viewer: 403 },
    async prepare(role) {
      const title = next(`written by ${role}`)
      return {
        request: { method: 'POST', url: '/docs', payload: { title } },
        tenantId: main.tenantId,
        async stored(allowed) {
          const rows = await ownerQuery(
            t,
            'SELECT owner_id, tenant_id FROM docs WHERE title = $1',
            [title],
          )
          expect(rows).toEqual(
            allowed ? [{ owner_id: who(main, role).userId, tenant_id: main.tenantId }] : [],
          )
        },
      }
    },
  },
  {
    // Someone else's document: the own-scoped grant passes the route guard, not the handler.
    route: 'PATCH /docs/{id}',
    permission: 'docs:write:own',
    expected: { owner: 200, admin: 200, member: 403, viewer: 403 },
    handlerDenies: ['member'],
    async prepare(role) {
      const author = await member(t, main.tenantId, `author-for-${role}`, ['member'])
      const id = await doc(main.tenantId, author.userId, 'original')
      const title = next(`edited by ${role}`)
      return {
        request: { method: 'PATCH', url: `/docs/${id}`, payload: { title } },
        tenantId: main.tenantId,
        async stored(allowed) {
          const [row] = await ownerQuery<{ title: string }>(
            t,
            'SELECT title FROM docs WHERE id = $1',
            [id],
          )
          expect(row?.title).toBe(allowed ? title : 'original')
        },
      }
    },
  },
  {
    // One's own document: an own-scoped grant is enough.
    route: 'PATCH /docs/{id}',
    permission: 'docs:write:own',
    expected: { owner: 200, admin: 200, member: 200, viewer: 403 },
    async prepare(role) {
      const id = await doc(main.tenantId, who(main, role).userId, 'mine')
      const title = next(`edited own by ${role}`)
      return {
        request: { method: 'PATCH', url: `/docs/${id}`, payload: { title } },
        tenantId: main.tenantId,
        async stored(allowed) {
          const [row] = await ownerQuery<{ title: string }>(
            t,
            'SELECT title FROM docs WHERE id = $1',
            [id],
          )
          expect(row?.title).toBe(allowed ? title : 'mine')
        },
      }
    },
  },
]

beforeAll(async () => {
  t = await createDocsApp('rbacmatrix')
  main = await team(t, 'main')
  doomed = await team(t, 'doomed')
})
afterAll(async () => {
  await t?.close()
})

describe('role × permission matrix', () => {
  for (const row of MATRIX) {
    const suffix = row.handlerDenies ? ' (a record of someone else)' : ''
    it(`${row.route}${suffix}: ${ROLES.map((role) => `${role} ${row.expected[role]}`).join(', ')}; no token 401`, async () => {
      const anonymous = await row.prepare('viewer')
      const unauthenticated = await call(t, null, anonymous.tenantId, anonymous.request)
      expect(unauthenticated.statusCode, unauthenticated.body).toBe(401)
      expect(unauthenticated.json().code).toBe('ACME_AUTH_UNAUTHENTICATED')
      await anonymous.stored(false)

      const fixture = row.team?.() ?? main
      for (const role of ROLES) {
        const prepared = await row.prepare(role)
        const response = await call(t, who(fixture, role), prepared.tenantId, prepared.request)
        const expected = row.expected[role]
        if (expected === 403) {
          expectProblem(response, 403, 'ACME_RBAC_FORBIDDEN')
          const missing = row.handlerDenies?.includes(role) ? 'docs:write' : row.permission
          expect(response.json().missing, `${role}: ${response.body}`).toEqual([missing])
        } else {
          expect(response.statusCode, `${role}: ${response.body}`).toBe(expected)
        }
        await prepared.stored(expected !== 403)
      }
    })
  }

  it('routes any signed-in user may call answer all four roles (permission: false)', async () => {
    for (const role of ROLES) {
      for (const url of ['/rbac/permissions', '/rbac/me/permissions']) {
        const response = await call(t, who(main, role), main.tenantId, { url })
        expect(response.statusCode, `${role} ${url}: ${response.body}`).toBe(200)
      }
    }
  })

  it("GET /rbac/me/permissions lists each role's effective permissions from the catalog", async () => {
    const expected: Record<Role, string[]> = {
      viewer: ['docs:read', 'members:read'],
      member: ['docs:read', 'docs:write:own', 'members:read'],
      admin: [
        'api-keys:manage',
        'docs:read',
        'docs:write',
        'members:invite',
        'members:manage',
        'members:read',
        'members:remove',
        'roles:manage',
        'roles:read',
        'tenants:manage',
      ],
      owner: [
        'api-keys:manage',
        'docs:read',
        'docs:write',
        'members:invite',
        'members:manage',
        'members:read',
        'members:remove',
        'roles:manage',
        'roles:read',
        'tenants:delete',
        'tenants:manage',
      ],
    }
    for (const role of ROLES) {
      const response = await call(t, who(main, role), main.tenantId, {
        url: '/rbac/me/permissions',
      })
      expect(response.json(), role).toEqual({ roles: [role], permissions: expected[role] })
    }
  })
})

describe('the OpenAPI document', () => {
  it("shows each route's permission in its operation (x-permissions)", async () => {
    const response = await t.app.inject({ url: '/reference/openapi.json' })
    expect(response.statusCode).toBe(200)
    const paths = response.json().paths as Record<string, Record<string, Record<string, unknown>>>
    for (const row of MATRIX) {
      const [method = '', path = ''] = row.route.split(' ')
      const operation = paths[path]?.[method.toLowerCase()]
      expect(operation, row.route).toBeDefined()
      expect(operation?.['x-permissions'], row.route).toEqual({ all: [row.permission] })
      expect(operation?.['x-auth'], row.route).toBe('required')
    }
    // Declared on purpose as needing no permission: nothing is shown.
    expect(paths['/rbac/me/permissions']?.get?.['x-permissions']).toBeUndefined()
  })
})
