import fp from 'fastify-plugin'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CoreErrors } from '../src/index.js'
import { buildTestApp, type TestApp } from './support/app.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the stand-in plugins below enforce. */
    demo?: { caller?: boolean; permission?: string; refuse?: boolean; anonymous?: boolean }
  }
}

const ran: string[] = []
let factoryCalls = 0

/** Registered first, in the last phase: core still runs it after the other two. */
const authorizer = fp(async (app) => {
  app.routeChecks.add('authorize', (route) => {
    factoryCalls++
    const permission = route.config.demo?.permission
    if (!permission) return null
    return async () => {
      ran.push(`authorize ${permission}`)
      if (route.config.demo?.refuse) throw new CoreErrors.Forbidden()
    }
  })
})

const authenticator = fp(async (app) => {
  app.routeChecks.add('authenticate', (route) => {
    if (!route.config.demo?.caller) return null
    // Answers at once, as auth does for a warm token: no promise.
    return () => {
      ran.push('authenticate')
      if (route.config.demo?.anonymous) throw new CoreErrors.Unauthorized()
    }
  })
})

let t: TestApp
beforeAll(async () => {
  t = await buildTestApp({}, async (app) => {
    // Declared before the plugins that check it: the checks are built at ready, not now.
    app.get(
      '/early',
      { config: { demo: { caller: true, permission: 'early:read' } } },
      async () => {
        ran.push('handler')
        return { ok: true }
      },
    )
    await app.register(authorizer)
    await app.register(authenticator)
    app.get(
      '/reports',
      {
        config: { demo: { caller: true, permission: 'reports:read' } },
        onRequest: async () => {
          ran.push('route hook')
        },
      },
      async () => {
        ran.push('handler')
        return { ok: true }
      },
    )
    app.get('/open', async () => ({ ok: true }))
    app.get(
      '/anonymous',
      { config: { demo: { caller: true, anonymous: true, permission: 'y' } } },
      () => {
        ran.push('handler')
        return { ok: true }
      },
    )
    app.get(
      '/refused',
      { config: { demo: { caller: true, permission: 'x', refuse: true } } },
      () => {
        ran.push('handler')
        return { ok: true }
      },
    )
  })
})
afterAll(async () => {
  await t.app.close()
})

describe('route checks', () => {
  it('run in phase order, before the route’s own hooks, whatever order plugins registered in', async () => {
    ran.length = 0
    const response = await t.app.inject({ url: '/reports' })
    expect(response.statusCode).toBe(200)
    expect(ran).toEqual(['authenticate', 'authorize reports:read', 'route hook', 'handler'])
  })

  it('reach a route declared before the plugin that checks it', async () => {
    ran.length = 0
    expect((await t.app.inject({ url: '/early' })).statusCode).toBe(200)
    expect(ran).toEqual(['authenticate', 'authorize early:read', 'handler'])
  })

  it('are built once per route at ready, not per request; a route declaring nothing has none', async () => {
    const before = factoryCalls
    for (let i = 0; i < 5; i++) await t.app.inject({ url: '/open' })
    expect(factoryCalls).toBe(before)
    expect(t.app.routeChecks.checksOf('GET', '/open')).toHaveLength(0)
    expect(t.app.routeChecks.checksOf('GET', '/reports')).toHaveLength(2)
  })

  it('stop at the first refusal: later checks and the handler never run', async () => {
    ran.length = 0
    const response = await t.app.inject({ url: '/refused' })
    expect(response.statusCode).toBe(403)
    expect(response.json().code).toBe('ACME_CORE_FORBIDDEN')
    expect(ran).toEqual(['authenticate', 'authorize x'])
  })

  it('treat a check that throws at once as a refusal, like one that rejects', async () => {
    ran.length = 0
    const response = await t.app.inject({ url: '/anonymous' })
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('ACME_CORE_UNAUTHORIZED')
    expect(ran).toEqual(['authenticate'])
  })

  it('cover the HEAD twin of a GET route', async () => {
    ran.length = 0
    expect((await t.app.inject({ method: 'HEAD', url: '/reports' })).statusCode).toBe(200)
    expect(ran.slice(0, 2)).toEqual(['authenticate', 'authorize reports:read'])
  })

  it('refuse a factory added after ready: it would never run', () => {
    expect(() => t.app.routeChecks.add('authorize', () => null)).toThrow('after ready()')
  })
})
