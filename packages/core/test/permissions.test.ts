import { describe, expect, it } from 'vitest'
import { defaultPermissionGrant, PermissionCatalog } from '../src/permissions.js'
import { buildTestApp } from './support/app.js'

describe('the permission catalog', () => {
  it('lists what packages declare, sorted, with who declared it', () => {
    const catalog = new PermissionCatalog()
    catalog.declare('@acme/tenancy', [{ name: 'members:invite', description: 'Invite members' }])
    catalog.declare('app', [{ name: 'projects:write', description: 'Edit projects' }])
    expect(catalog.has('members:invite')).toBe(true)
    expect(catalog.has('members:remove')).toBe(false)
    expect(catalog.list().map((entry) => [entry.name, entry.owner])).toEqual([
      ['members:invite', '@acme/tenancy'],
      ['projects:write', 'app'],
    ])
  })

  it('refuses names that are not resource:action', () => {
    const catalog = new PermissionCatalog()
    for (const name of ['members', 'Members:invite', 'members:*', '*', 'a:b:own', 'a: b', '']) {
      expect(() => catalog.declare('app', [{ name, description: 'x' }]), name).toThrow(TypeError)
    }
    expect(catalog.list()).toEqual([])
  })

  it('refuses a permission another package already declared, and accepts a repeat by its owner', () => {
    const catalog = new PermissionCatalog()
    catalog.declare('@acme/tenancy', [{ name: 'members:invite', description: 'Invite' }])
    catalog.declare('@acme/tenancy', [{ name: 'members:invite', description: 'Invite members' }])
    expect(() => catalog.declare('app', [{ name: 'members:invite', description: 'mine' }])).toThrow(
      /already declared by @acme\/tenancy/,
    )
    expect(catalog.list()).toEqual([
      {
        name: 'members:invite',
        description: 'Invite members',
        owner: '@acme/tenancy',
        grant: { admin: true },
      },
    ])
  })
})

describe('default grants in the catalog', () => {
  it('without a grant: resource:read goes to admin, member and viewer; anything else to admin', () => {
    const catalog = new PermissionCatalog()
    catalog.declare('app', [
      { name: 'notes:read', description: 'Read notes' },
      { name: 'notes:write', description: 'Write notes' },
      { name: 'notes:reader-add', description: 'Not a read' },
      { name: 'reads:delete', description: 'Not a read either' },
    ])
    expect(Object.fromEntries(catalog.list().map((entry) => [entry.name, entry.grant]))).toEqual({
      'notes:read': { admin: true, member: true, viewer: true },
      'notes:reader-add': { admin: true },
      'notes:write': { admin: true },
      'reads:delete': { admin: true },
    })
    expect(defaultPermissionGrant('x:read')).toEqual({ admin: true, member: true, viewer: true })
    expect(defaultPermissionGrant('x:write')).toEqual({ admin: true })
  })

  it('a declared grant is kept exactly, {} included (owners only), and cannot be changed after', () => {
    const catalog = new PermissionCatalog()
    const grant = { admin: true, member: 'own' } as const
    catalog.declare('app', [
      { name: 'projects:write', description: 'Edit projects', grant },
      { name: 'projects:read', description: 'See projects', grant: { admin: true } },
      { name: 'projects:delete', description: 'Delete projects', grant: {} },
      { name: 'projects:export', description: 'Export', grant: { auditor: true, viewer: 'own' } },
    ])
    const grants = Object.fromEntries(catalog.list().map((entry) => [entry.name, entry.grant]))
    expect(grants).toEqual({
      'projects:delete': {},
      'projects:export': { auditor: true, viewer: 'own' },
      'projects:read': { admin: true },
      'projects:write': { admin: true, member: 'own' },
    })
    // A copy: changing the object passed in, or the one listed, changes nothing.
    ;(grant as Record<string, unknown>).viewer = true
    expect(catalog.list().find((entry) => entry.name === 'projects:write')?.grant).toEqual({
      admin: true,
      member: 'own',
    })
    expect(() => {
      ;(grants['projects:read'] as Record<string, unknown>).member = true
    }).toThrow(TypeError)
  })

  it('refuses a malformed grant, naming the permission, and declares none of the batch', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /grant must be an object/],
      [['admin'], /grant must be an object/],
      ['admin', /grant must be an object/],
      [{ Admin: true }, /grant names "Admin", which is not a role name/],
      [{ admin: false }, /grant of "admin" must be true or 'own'/],
      [{ member: 'mine' }, /grant of "member" must be true or 'own'/],
    ]
    for (const [grant, message] of cases) {
      const catalog = new PermissionCatalog()
      expect(() =>
        catalog.declare('app', [
          { name: 'notes:read', description: 'fine' },
          { name: 'notes:write', description: 'x', grant: grant as never },
        ]),
      ).toThrow(message)
      expect(() =>
        catalog.declare('app', [{ name: 'notes:write', description: 'x', grant: grant as never }]),
      ).toThrow(/app: permission "notes:write"/)
      expect(catalog.list()).toEqual([])
    }
  })
})

describe('the route table', () => {
  it('lists every route registered after core, in encapsulated plugins too, with its config', async () => {
    const { app } = await buildTestApp({}, async (instance) => {
      instance.get('/open', { config: { auth: 'public' } }, async () => ({}))
      await instance.register(
        async (child) => {
          child.post('/guarded', { config: { permission: 'projects:write' } }, async () => ({}))
          child.route({ method: ['PUT', 'PATCH'], url: '/both', handler: async () => ({}) })
        },
        { prefix: '/v1' },
      )
    })
    try {
      const mine = app.routeTable
        .list()
        .filter((route) => route.url === '/open' || route.url.startsWith('/v1'))
        .map((route) => [
          route.method,
          route.url,
          route.config.auth ?? route.config.permission ?? null,
        ])
      expect(mine).toEqual([
        ['GET', '/open', 'public'],
        ['POST', '/v1/guarded', 'projects:write'],
        ['PUT', '/v1/both', null],
        ['PATCH', '/v1/both', null],
      ])
      // Core's own routes are there too (health, docs).
      expect(app.routeTable.list().some((route) => route.url === '/health/ready')).toBe(true)
    } finally {
      await app.close()
    }
  })
})
