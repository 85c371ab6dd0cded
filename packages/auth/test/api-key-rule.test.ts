import type { TestApp } from '@acme/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { ApiKeyService } from '../src/services/api-keys.js'
import { bearer, createAuthApp, login, register } from './support/app.js'

const PASSWORD = 'correct horse battery'
let t: TestApp
let db: AuthDb

/** Auth with app routes of every kind: what a key may reach is decided by one rule. */
beforeAll(async () => {
  t = await createAuthApp(
    { throttle: { ipMax: 10_000 } },
    {
      label: 'auth_key_rule',
      routes: (app) => {
        app.permissions.declare('app', [{ name: 'reports:read', description: 'Read reports.' }])
        app.get('/reports', { config: { auth: 'required', permission: 'reports:read' } }, () => ({
          ok: true,
        }))
        app.get('/undeclared', { config: { auth: 'required' } }, () => ({ ok: true }))
        app.get('/own-thing', { config: { auth: 'required', permission: false } }, () => ({
          ok: true,
        }))
        app.get(
          '/own-thing-for-keys',
          { config: { auth: 'required', permission: false, apiKeys: 'allow' } },
          () => ({ ok: true }),
        )
        app.get(
          '/reports/export',
          { config: { auth: 'required', permission: 'reports:read', apiKeys: 'deny' } },
          () => ({ ok: true }),
        )
      },
    },
  )
  db = t.app.prisma as unknown as AuthDb
})
afterAll(async () => {
  await t?.close()
})

let users = 0
async function userWithKey() {
  const email = `rule${++users}@initech.test`
  await register(t, email, PASSWORD)
  const { accessToken, refreshToken } = (await login(t, email, PASSWORD)).json()
  const created = await t.app.inject({
    method: 'POST',
    url: '/auth/api-keys',
    headers: bearer(accessToken),
    payload: { name: 'ci', scopes: ['reports:read'] },
  })
  expect(created.statusCode).toBe(201)
  return { email, accessToken, refreshToken, key: created.json().key as string }
}

describe("an API key on the owner's own-account routes (issue: a scoped key renamed its creator)", () => {
  it('gets 403 on PATCH /auth/me, and the name stays', async () => {
    const user = await userWithKey()
    for (const headers of [{ 'x-api-key': user.key }, bearer(user.key)]) {
      const response = await t.app.inject({
        method: 'PATCH',
        url: '/auth/me',
        headers,
        payload: { name: 'Owned by a key' },
      })
      expect(response.statusCode).toBe(403)
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(response.json().code).toBe('ACME_AUTH_API_KEY_NOT_ALLOWED')
    }
    const stored = await db.user.findUniqueOrThrow({ where: { email: user.email } })
    expect(stored.name).toBeNull()
  })

  it('gets 403 on POST /auth/logout-all, and every session stays alive', async () => {
    const user = await userWithKey()
    const response = await t.app.inject({
      method: 'POST',
      url: '/auth/logout-all',
      headers: { 'x-api-key': user.key },
    })
    expect(response.statusCode).toBe(403)
    const refreshed = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken: user.refreshToken },
    })
    expect(refreshed.statusCode).toBe(200)
  })

  it.each([
    ['GET', '/auth/me'],
    ['GET', '/auth/sessions'],
    ['GET', '/auth/api-keys'],
    ['POST', '/auth/api-keys'],
    ['POST', '/auth/password/change'],
    ['PATCH', '/auth/me/email'],
    ['POST', '/auth/mfa/totp/setup'],
  ])('gets 403 on %s %s', async (method, url) => {
    const user = await userWithKey()
    const response = await t.app.inject({
      method: method as 'GET' | 'POST' | 'PATCH',
      url,
      headers: { 'x-api-key': user.key },
      ...(method === 'GET' ? {} : { payload: {} }),
    })
    expect(response.statusCode).toBe(403)
    expect(response.json().code).toBe('ACME_AUTH_API_KEY_NOT_ALLOWED')
  })
})

describe('the rule, once for every route', () => {
  it('opens a route that declares a permission to keys, and one that says apiKeys: allow', async () => {
    const { key } = await userWithKey()
    for (const url of ['/reports', '/own-thing-for-keys']) {
      const response = await t.app.inject({ url, headers: { 'x-api-key': key } })
      expect(response.statusCode).toBe(200)
    }
  })

  it('closes routes with permission: false, no declaration, or apiKeys: deny', async () => {
    const { key, accessToken } = await userWithKey()
    for (const url of ['/own-thing', '/undeclared', '/reports/export']) {
      const asKey = await t.app.inject({ url, headers: { 'x-api-key': key } })
      expect(asKey.statusCode).toBe(403)
      expect(asKey.json().code).toBe('ACME_AUTH_API_KEY_NOT_ALLOWED')
      const asUser = await t.app.inject({ url, headers: bearer(accessToken) })
      expect(asUser.statusCode).toBe(200)
    }
  })

  it('refuses a made-up key on a closed route the same way, without a lookup', async () => {
    const response = await t.app.inject({
      method: 'PATCH',
      url: '/auth/me',
      headers: { 'x-api-key': `ak_${'A'.repeat(12)}_${'b'.repeat(43)}` },
      payload: { name: 'x' },
    })
    expect(response.statusCode).toBe(403)
    expect(response.json().code).toBe('ACME_AUTH_API_KEY_NOT_ALLOWED')
  })

  it('shows the rule in the OpenAPI operation', async () => {
    const document = (await t.app.inject({ url: '/docs/openapi.json' })).json()
    const patchMe = document.paths['/auth/me'].patch
    expect(patchMe['x-api-keys']).toBe('deny')
    expect(patchMe.description).toContain('API keys: refused')
    expect(patchMe.security).toEqual([{ bearerAuth: [] }])
    const reports = document.paths['/reports'].get
    expect(reports['x-api-keys']).toBe('allow')
    expect(reports.security).toEqual(
      expect.arrayContaining([{ bearerAuth: [] }, { apiKeyAuth: [] }]),
    )
    expect(document.components.securitySchemes.apiKeyAuth).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'x-api-key',
    })
  })
})

describe('unknown key prefixes are cheap to refuse', () => {
  it('looks an unknown prefix up once, then answers from memory until the TTL passes', async () => {
    let lookups = 0
    // The real database, with its transactions counted: each key lookup is one.
    const counted = new Proxy(db, {
      get(target, property, receiver) {
        if (property === '$transaction') {
          return (...args: Parameters<AuthDb['$transaction']>) => {
            lookups++
            return target.$transaction(...args)
          }
        }
        return Reflect.get(target, property, receiver)
      },
    })
    let now = Date.parse('2026-12-04T10:00:00Z')
    const service = new ApiKeyService({ db: counted, clock: () => new Date(now) })
    const unknown = `ak_${'Z'.repeat(12)}_${'c'.repeat(43)}`
    for (let i = 0; i < 50; i++) expect(await service.authenticate(unknown)).toBeNull()
    expect(lookups).toBe(1)
    now += 31_000
    expect(await service.authenticate(unknown)).toBeNull()
    expect(lookups).toBe(2)
  })
})
