import acmeAuth from '@acme/auth'
import acmeCore, { serverOptions } from '@acme/core'
import acmeTenancy from '@acme/tenancy'
import { startTcpProxy, type TcpProxy, TEST_BRAND, TEST_DATABASE_URL } from '@acme/test-support'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrismaClient } from '../src/generated/prisma/client.js'
import acmeRbac, { type RbacOptions } from '../src/index.js'
import {
  createRbacApp,
  createTenancyDatabase,
  type RbacTestApp,
  type TenancyDatabase,
} from './support/app.js'
import { DOCS_PERMISSIONS } from './support/docs-routes.js'
import { call, expectProblem, QUIET, type User, user } from './support/fixtures.js'

/**
 * What rbac refuses at startup (AZ-05: deny by default), and that a failing permission lookup
 * answers 503, never lets the request through.
 */

let db: TenancyDatabase

beforeAll(async () => {
  db = await createTenancyDatabase('rbacstartup')
})
afterAll(async () => {
  await db?.drop()
})

/**
 * Core, auth, (tenancy), rbac and `routes`, made ready; answers the error `ready()` rejected
 * with, or null. The app is closed either way (no Redis: nothing here needs it).
 */
async function startError(
  options: Partial<RbacOptions>,
  routes: (app: FastifyInstance) => void | Promise<void> = () => undefined,
  tenancy = true,
): Promise<Error | null> {
  const app = Fastify(serverOptions({ logger: false }))
  try {
    await app.register(acmeCore, {
      brand: TEST_BRAND,
      mail: { transport: 'memory' },
      database: { url: db.app.url, PrismaClient, poolSize: 2 },
    })
    await app.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
    if (tenancy) await app.register(acmeTenancy, { rateLimit: { enabled: false } })
    await app.register(acmeRbac, options)
    await routes(app)
    await app.ready()
    return null
  } catch (error) {
    return error as Error
  } finally {
    await app.close().catch(() => undefined)
  }
}

const ok = async () => ({ ok: true })

describe('deny by default', () => {
  it('an authenticated route declaring no permission: ready() rejects, naming it', async () => {
    const error = await startError({ denyByDefault: true }, (app) => {
      app.get('/reports', { config: { auth: 'required' } }, ok)
      app.get('/maybe', { config: { auth: 'optional' } }, ok)
    })
    expect(error?.message).toContain('GET /reports needs authentication but declares no permission')
    expect(error?.message).toContain('GET /maybe needs authentication but declares no permission')
  })

  it('every route of auth, tenancy and rbac declares itself: an app turns denyByDefault on', async () => {
    expect(await startError({ denyByDefault: true })).toBeNull()
    expect(await startError({ denyByDefault: true }, () => undefined, false)).toBeNull()
  })

  it('permission: false, a declared permission, and public routes pass', async () => {
    const error = await startError(
      { denyByDefault: true, permissions: [...DOCS_PERMISSIONS] },
      (app) => {
        app.get('/me/settings', { config: { auth: 'required', permission: false } }, ok)
        app.get('/docs-list', { config: { auth: 'required', permission: 'docs:read' } }, ok)
        app.get(
          '/docs-any',
          { config: { auth: 'required', permissions: { any: ['docs:read', 'docs:write:own'] } } },
          ok,
        )
        app.get('/status', { config: { auth: 'public' } }, ok)
      },
    )
    expect(error).toBeNull()
  })

  it('without denyByDefault, an undeclared route is allowed to start', async () => {
    expect(
      await startError({}, (app) => {
        app.get('/reports', { config: { auth: 'required' } }, ok)
      }),
    ).toBeNull()
  })
})

describe('everything named must be declared', () => {
  it.each([
    ['an undeclared permission', { permission: 'widgets:read' }, '"widgets:read"'],
    [
      'an undeclared own-scoped permission',
      { permission: 'widgets:read:own' },
      '"widgets:read:own"',
    ],
    [
      'an undeclared permission among all',
      { permissions: { all: ['members:read', 'widgets:read'] } },
      '"widgets:read"',
    ],
    [
      'an undeclared permission among any',
      { permissions: { any: ['widgets:read'] } },
      '"widgets:read"',
    ],
    ['a malformed permission', { permission: 'Widgets' }, '"Widgets"'],
  ])('a route requiring %s: ready() rejects, naming the route', async (_case, config, named) => {
    const error = await startError({}, (app) => {
      app.get('/widgets', { config: { auth: 'required', ...config } }, ok)
    })
    expect(error?.message).toContain(`GET /widgets requires ${named}, which no package declares`)
  })

  it('custom systemRoles naming an unknown permission: ready() rejects', async () => {
    const error = await startError({
      systemRoles: [
        { name: 'owner', permissions: ['*'] },
        { name: 'clerk', permissions: ['members:read', 'ledgers:write'] },
      ],
    })
    expect(error?.message).toContain('system role clerk: unknown permission "ledgers:write"')
  })

  it('custom systemRoles must include owner', async () => {
    const error = await startError({ systemRoles: [{ name: 'admin', permissions: ['*'] }] })
    expect(error?.message).toContain('systemRoles must include "owner"')
  })

  it("the default system roles start on the packages' declarations alone (no app permissions)", async () => {
    expect(await startError({})).toBeNull()
  })

  it('a declaration granting a role the default roles lack: ready() rejects, naming both', async () => {
    const error = await startError({}, (app) => {
      app.permissions.declare('@acme/ledgers', [
        { name: 'ledgers:read', description: 'Read ledgers.', grant: { auditor: true } },
      ])
    })
    expect(error?.message).toContain(
      'permission "ledgers:read" (declared by @acme/ledgers) grants role "auditor", which is not a default system role (owner, admin, member, viewer)',
    )
    const fromOptions = await startError({
      permissions: [{ name: 'ledgers:write', description: 'x', grant: { clerk: 'own' } }],
    })
    expect(fromOptions?.message).toContain(
      'permission "ledgers:write" (declared by app) grants role "clerk"',
    )
  })

  it('with systemRoles, grants are not read: a grant to a role not listed starts', async () => {
    expect(
      await startError({
        permissions: [{ name: 'ledgers:write', description: 'x', grant: { clerk: 'own' } }],
        systemRoles: [{ name: 'owner', permissions: ['*'] }],
      }),
    ).toBeNull()
  })

  it('a malformed grant in the options is refused at registration', async () => {
    const error = await startError({
      permissions: [
        { name: 'ledgers:write', description: 'x', grant: { clerk: 'mine' as unknown as 'own' } },
      ],
    })
    expect(error?.message).toContain('invalid options')
    expect(error?.message).toContain('"permissions.0.grant.clerk"')
  })
})

describe('a failing permission lookup fails closed (AZ-05)', () => {
  let proxy: TcpProxy
  let t: RbacTestApp
  let someone: User
  let tenantId: string

  beforeAll(async () => {
    const target = new URL(TEST_DATABASE_URL)
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432))
    const database: TenancyDatabase = {
      ...db,
      app: { ...db.app, url: proxy.url(db.app.url) },
      // Dropped by the file's afterAll.
      drop: async () => undefined,
    }
    t = await createRbacApp(
      { permissions: [...DOCS_PERMISSIONS] },
      {
        ...QUIET,
        label: 'rbacoutage',
        database,
        routes: (app) => {
          app.get('/reports', { config: { auth: 'required', permission: 'members:read' } }, ok)
          app.get('/own', { config: { auth: 'required', permission: false } }, ok)
        },
      },
    )
    someone = await user(t, 'outage')
    const created = await call(t, someone, undefined, {
      method: 'POST',
      url: '/tenants',
      payload: { name: 'Outage' },
    })
    tenantId = created.json().id
    expect((await call(t, someone, tenantId, { url: '/reports' })).statusCode).toBe(200)
  })
  afterAll(async () => {
    await proxy?.restore().catch(() => undefined)
    await t?.close()
    await proxy?.close()
  })

  it('database cut, permissions not in memory: 503 with a generic body, never 200', async () => {
    // The membership stays cached by tenancy; rbac's cache is cold.
    await t.app.rbac.invalidate('all')
    await proxy.cut()
    try {
      for (const url of ['/reports', '/own']) {
        const response = await call(t, someone, tenantId, { url })
        expectProblem(response, 503, 'ACME_RBAC_UNAVAILABLE')
        const body = response.json()
        expect(Object.keys(body).sort()).toEqual(
          ['code', 'detail', 'instance', 'requestId', 'status', 'title', 'type'].sort(),
        )
        expect(body.detail).toBe('Permissions cannot be checked right now; retry shortly.')
        expect(response.body).not.toMatch(/prisma|postgres|ECONNREFUSED|select|at .*\.ts/i)
      }
    } finally {
      await proxy.restore()
    }
    // Back: answered normally again.
    let status = 0
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await call(t, someone, tenantId, { url: '/reports' })).statusCode
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(status).toBe(200)
  })
})
