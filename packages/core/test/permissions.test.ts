import { describe, expect, it } from 'vitest'
import { PermissionCatalog } from '../src/permissions.js'
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
      { name: 'members:invite', description: 'Invite members', owner: '@acme/tenancy' },
    ])
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
