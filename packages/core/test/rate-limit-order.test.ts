import fp from 'fastify-plugin'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CoreErrors } from '../src/index.js'
import { buildTestApp, type TestApp } from './support/app.js'

/**
 * Stands in for an authentication plugin: registered after core, it refuses every credential, as
 * auth does with forged tokens and unknown keys, and counts how often it was asked.
 */
let lookups = 0
const refuseEveryCredential = fp(async (app) => {
  app.addHook('onRequest', async () => {
    lookups++
    throw new CoreErrors.Unauthorized()
  })
})

let t: TestApp
beforeAll(async () => {
  t = await buildTestApp({ rateLimit: { max: 10, timeWindowMs: 60_000 } }, async (app) => {
    await app.register(refuseEveryCredential)
    app.get('/projects', async () => ({ items: [] }))
    app.get('/unlimited', { config: { rateLimit: false } }, async () => ({ ok: true }))
    app.get('/strict', { config: { rateLimit: { max: 2, timeWindow: 60_000 } } }, async () => ({}))
  })
})
afterAll(async () => {
  await t.app.close()
})

describe('the global per-client limit runs before authentication', () => {
  it('answers a flood of forged credentials 429 past the limit, without asking auth again', async () => {
    lookups = 0
    const statuses: number[] = []
    for (let i = 0; i < 130; i++) {
      const response = await t.app.inject({
        method: 'GET',
        url: '/projects',
        headers: { 'x-api-key': `ak_unknown${i}` },
        remoteAddress: '203.0.113.40',
      })
      statuses.push(response.statusCode)
    }
    expect(statuses.filter((status) => status === 401)).toHaveLength(10)
    expect(statuses.filter((status) => status === 429)).toHaveLength(120)
    expect(lookups).toBe(10)
  })

  it('limits unknown paths the same way, before anything else runs', async () => {
    lookups = 0
    const statuses = new Set<number>()
    for (let i = 0; i < 12; i++) {
      const response = await t.app.inject({ url: `/nope/${i}`, remoteAddress: '203.0.113.41' })
      statuses.add(response.statusCode)
    }
    expect([...statuses].sort()).toEqual([401, 429])
    expect(lookups).toBe(10)
  })

  it("applies a route's own limit in place of the global one, also before authentication", async () => {
    lookups = 0
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) {
      const response = await t.app.inject({ url: '/strict', remoteAddress: '203.0.113.42' })
      statuses.push(response.statusCode)
    }
    expect(statuses).toEqual([401, 401, 429, 429, 429])
    expect(lookups).toBe(2)
  })

  it('leaves routes that opt out unlimited', async () => {
    for (let i = 0; i < 15; i++) {
      const response = await t.app.inject({ url: '/unlimited', remoteAddress: '203.0.113.43' })
      expect(response.statusCode).toBe(401)
    }
  })
})
