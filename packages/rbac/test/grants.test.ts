import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RbacOptions } from '../src/index.js'
import {
  createRbacApp,
  createTenancyDatabase,
  type RbacTestApp,
  type TenancyDatabase,
} from './support/app.js'
import { call, member, QUIET, type Team, team, type User, user } from './support/fixtures.js'

/**
 * The default system roles take what the catalog's declarations grant them: a permission declared
 * without a grant goes, when it is a `:read`, to admin, member and viewer, otherwise to admin only;
 * one declared with a grant goes exactly where it says (`'own'`: the own-scoped variant). An
 * explicit `systemRoles` ignores grants: the roles hold exactly what they list.
 */

type Role = 'owner' | 'admin' | 'member' | 'viewer'
const ROLES: readonly Role[] = ['owner', 'admin', 'member', 'viewer']

/** The app's notes, with grants of every kind. */
const NOTES_PERMISSIONS: NonNullable<RbacOptions['permissions']> = [
  { name: 'notes:read', description: 'Read notes (default grant).' },
  { name: 'notes:write', description: 'Write notes (default grant).' },
  { name: 'notes:publish', description: 'Publish notes (members only).', grant: { member: true } },
  {
    name: 'notes:edit',
    description: 'Edit notes (admins any, members their own).',
    grant: { admin: true, member: 'own' },
  },
]

/** Routes with no data: the owner of a note comes in the path, the handler checks the scope. */
async function notesRoutes(app: FastifyInstance) {
  // A plugin declaring straight into core's catalog, with a grant narrower than a read's default.
  app.permissions.declare('@acme/reports', [
    { name: 'reports:read', description: 'Read reports.', grant: { admin: true } },
  ])
  const guarded = { auth: 'required', tenant: 'required' } as const
  const ok = async () => ({ ok: true })
  app.get('/notes', { config: { ...guarded, permission: 'notes:read' } }, ok)
  app.post('/notes', { config: { ...guarded, permission: 'notes:write' } }, ok)
  app.post('/notes/publish', { config: { ...guarded, permission: 'notes:publish' } }, ok)
  app.patch<{ Params: { ownerId: string } }>(
    '/notes/of/:ownerId',
    { config: { ...guarded, permission: 'notes:edit:own' } },
    async (request, reply) => {
      if (!request.can('notes:edit', { ownerId: request.params.ownerId })) {
        return reply.code(403).send({ refused: true })
      }
      return { ok: true }
    },
  )
  app.get('/reports', { config: { ...guarded, permission: 'reports:read' } }, ok)
}

let db: TenancyDatabase
beforeAll(async () => {
  db = await createTenancyDatabase('rbacgrants')
})
afterAll(async () => {
  await db?.drop()
})

/** Both apps share the file's database; it is dropped once, by the file's afterAll. */
const shared = () => ({ ...db, drop: async () => undefined })

describe('default system roles: what the declarations grant', () => {
  let t: RbacTestApp
  let main: Team
  let other: User

  beforeAll(async () => {
    t = await createRbacApp(
      { permissions: NOTES_PERMISSIONS },
      { ...QUIET, label: 'rbacgrants', database: shared(), routes: notesRoutes },
    )
    main = await team(t, 'grants')
    other = await user(t, 'grants-other')
  })
  afterAll(async () => {
    await t?.close()
  })

  const status = async (role: Role, method: 'GET' | 'POST' | 'PATCH', url: string) =>
    (await call(t, main[role], main.tenantId, { method, url })).statusCode

  it.each([
    ['GET', '/notes', 'a read without grant: every role', [200, 200, 200, 200]],
    ['POST', '/notes', 'a write without grant: admin only', [200, 200, 403, 403]],
    ['POST', '/notes/publish', '{ member: true }: exactly member', [200, 403, 200, 403]],
    ['GET', '/reports', 'a read granted { admin: true }: admin only', [200, 200, 403, 403]],
  ] as const)('%s %s, %s (owner always)', async (method, url, _case, expected) => {
    const answers: number[] = []
    for (const role of ROLES) answers.push(await status(role, method, url))
    expect(Object.fromEntries(ROLES.map((role, i) => [role, answers[i]]))).toEqual(
      Object.fromEntries(ROLES.map((role, i) => [role, expected[i]])),
    )
  })

  it("'own' grants the own-scoped variant: members edit their own notes, not others'", async () => {
    for (const role of ROLES) {
      const mine = await status(role, 'PATCH', `/notes/of/${main[role].userId}`)
      const theirs = await status(role, 'PATCH', `/notes/of/${other.userId}`)
      expect({ role, mine, theirs }).toEqual({
        role,
        mine: role === 'viewer' ? 403 : 200,
        theirs: role === 'owner' || role === 'admin' ? 200 : 403,
      })
    }
  })

  it('GET /rbac/me/permissions: each role holds exactly what the catalog grants it', async () => {
    const expected: Record<Exclude<Role, 'owner'>, string[]> = {
      admin: [
        'api-keys:manage',
        'members:invite',
        'members:manage',
        'members:read',
        'members:remove',
        'notes:edit',
        'notes:read',
        'notes:write',
        'reports:read',
        'roles:manage',
        'roles:read',
        'tenants:manage',
      ],
      member: ['members:read', 'notes:edit:own', 'notes:publish', 'notes:read'],
      viewer: ['members:read', 'notes:read'],
    }
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const response = await call(t, main[role], main.tenantId, { url: '/rbac/me/permissions' })
      expect(response.json(), role).toEqual({ roles: [role], permissions: expected[role] })
    }
    // The system role itself lists the permissions (one by one, in catalog order).
    const memberRole = await call(t, main.owner, main.tenantId, { url: '/rbac/roles/member' })
    expect(memberRole.json().permissions).toEqual([
      'members:read',
      'notes:edit:own',
      'notes:publish',
      'notes:read',
    ])
  })
})

describe('explicit systemRoles: exactly what they list, grants ignored', () => {
  let t: RbacTestApp
  let tenantId: string
  let admin: User
  let viewer: User

  beforeAll(async () => {
    t = await createRbacApp(
      {
        permissions: [
          ...NOTES_PERMISSIONS,
          // Would fail startup with the default roles: nothing reads grants here.
          { name: 'notes:audit', description: 'Audit notes.', grant: { auditor: true } },
        ],
        systemRoles: [
          { name: 'owner', permissions: ['*'] },
          { name: 'admin', permissions: ['notes:read', 'notes:write', 'members:read'] },
          { name: 'viewer', permissions: ['members:read'] },
        ],
      },
      { ...QUIET, label: 'rbacgrantsstrict', database: shared(), routes: notesRoutes },
    )
    const owner = await user(t, 'strict-owner')
    const created = await call(t, owner, undefined, {
      method: 'POST',
      url: '/tenants',
      payload: { name: 'Strict' },
    })
    tenantId = created.json().id
    admin = await member(t, tenantId, 'strict-admin', ['admin'])
    viewer = await member(t, tenantId, 'strict-viewer', ['viewer'])
  })
  afterAll(async () => {
    await t?.close()
  })

  it('the roles hold their lists: no default read for viewer, no declared grant for admin', async () => {
    const me = async (who: User) =>
      (await call(t, who, tenantId, { url: '/rbac/me/permissions' })).json().permissions
    expect(await me(admin)).toEqual(['members:read', 'notes:read', 'notes:write'])
    expect(await me(viewer)).toEqual(['members:read'])
    expect((await call(t, viewer, tenantId, { url: '/notes' })).statusCode).toBe(403)
    expect((await call(t, admin, tenantId, { url: '/reports' })).statusCode).toBe(403)
    const editOthers = await call(t, admin, tenantId, {
      method: 'PATCH',
      url: `/notes/of/${viewer.userId}`,
    })
    expect(editOthers.statusCode).toBe(403)
    const roles = await call(t, admin, tenantId, { url: '/rbac/roles' })
    expect(roles.statusCode).toBe(403)
  })
})
