import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { TestApp } from '@acme/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { bearer, createAuthApp } from './support/app.js'
import { testClock } from './support/clock.js'

const PASSWORD = 'correct horse battery'
const clock = testClock()
let t: TestApp
let db: AuthDb

/** Auth plus a route that shows who the request acts as. */
beforeAll(async () => {
  t = await createAuthApp(
    {},
    {
      label: 'auth_api_keys',
      clock,
      // Every test here comes from one client address: room for all of them within a minute.
      core: { rateLimit: { max: 1_000 } },
      routes: (app) => {
        // A route open to keys says so; auth's own account routes are not (api-key-rule.test.ts).
        app.get('/whoami', { config: { auth: 'required', apiKeys: 'allow' } }, async (request) => ({
          principal: request.principal,
          session: request.session,
        }))
      },
    },
  )
  db = t.app.prisma as unknown as AuthDb
})
afterAll(async () => {
  await t?.close()
})

let users = 0
/** A fresh account's access token, so no test depends on another's keys or clock moves. */
async function signUp(): Promise<{ token: string; email: string }> {
  const email = `keys${++users}@initech.test`
  await t.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password: PASSWORD },
  })
  const response = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: PASSWORD },
  })
  expect(response.statusCode).toBe(200)
  return { token: response.json().accessToken, email }
}

function createKey(token: string, payload: Record<string, unknown>) {
  return t.app.inject({ method: 'POST', url: '/auth/api-keys', headers: bearer(token), payload })
}

async function newKey(token: string, payload: Record<string, unknown> = { name: 'ci' }) {
  const response = await createKey(token, payload)
  expect(response.statusCode).toBe(201)
  return response.json() as { key: string; apiKey: { id: string; prefix: string } }
}

const me = (headers: Record<string, string>) =>
  t.app.inject({ method: 'GET', url: '/whoami', headers })
const withKey = (key: string) => ({ 'x-api-key': key })
/** What differs between any two requests: their id and path. */
const strip = (body: Record<string, unknown>) => {
  const { requestId: _requestId, instance: _instance, ...rest } = body
  return rest
}

describe('creating and listing keys', () => {
  it('shows the key once and stores only its SHA-256', async () => {
    const { token } = await signUp()
    const response = await createKey(token, { name: 'deploy', scopes: ['read', 'write'] })
    expect(response.statusCode).toBe(201)
    const { key, apiKey } = response.json()
    expect(key).toMatch(/^ak_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/)
    expect(key.startsWith(`${apiKey.prefix}_`)).toBe(true)
    expect(apiKey).toMatchObject({ name: 'deploy', scopes: ['read', 'write'], expiresAt: null })
    expect(Object.keys(apiKey).sort()).toEqual(
      ['createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix', 'scopes'].sort(),
    )

    const row = await db.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })
    expect(row.keyHash).toBe(createHash('sha256').update(key).digest('hex'))
    const secret = key.slice(apiKey.prefix.length + 1)
    for (const value of Object.values(row)) {
      expect(String(value)).not.toContain(secret)
    }

    const list = await t.app.inject({
      method: 'GET',
      url: '/auth/api-keys',
      headers: bearer(token),
    })
    expect(list.statusCode).toBe(200)
    expect(list.json().items).toEqual([apiKey])
    expect(list.body).not.toContain(secret)
    expect(list.body).not.toContain(row.keyHash)
    expect(list.body).not.toContain('keyHash')
  })

  it.each([
    ['a name over 100 characters', { name: 'x'.repeat(101) }],
    ['an empty name', { name: '' }],
    ['scopes that are not strings', { name: 'ci', scopes: [1, true] }],
    ['more than 50 scopes', { name: 'ci', scopes: Array.from({ length: 51 }, (_, i) => `s${i}`) }],
    ['an expiry in the past', { name: 'ci', expiresAt: new Date(Date.now() - 60_000) }],
    ['an expiry that is not a datetime', { name: 'ci', expiresAt: 'tomorrow' }],
    ['a field a client must not set', { name: 'ci', ownerId: randomUUID() }],
  ])('refuses %s with 400 and creates nothing', async (_label, payload) => {
    const { token } = await signUp()
    const response = await createKey(token, payload)
    expect(response.statusCode).toBe(400)
    expect(response.json().code).toBe('ACME_CORE_VALIDATION_FAILED')
    const list = await t.app.inject({
      method: 'GET',
      url: '/auth/api-keys',
      headers: bearer(token),
    })
    expect(list.json().items).toEqual([])
  })
})

describe('authenticating with a key', () => {
  it('acts as its owner through x-api-key and through Authorization: Bearer', async () => {
    const { token, email } = await signUp()
    const { key, apiKey } = await newKey(token, { name: 'ci', scopes: ['reports:read'] })
    for (const headers of [withKey(key), bearer(key)]) {
      const profile = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) })
      expect(profile.json().email).toBe(email)

      const who = await me(headers)
      expect(who.statusCode).toBe(200)
      expect(who.json()).toEqual({
        principal: {
          type: 'apiKey',
          keyId: apiKey.id,
          userId: profile.json().id,
          scopes: ['reports:read'],
        },
        session: null,
      })
    }
  })

  it('decides by the x-api-key header even beside a bearer token already verified', async () => {
    const { token } = await signUp()
    const { key, apiKey } = await newKey(token)
    // The token is now warm: verified once and cached.
    expect((await me(bearer(token))).json().principal.type).toBe('user')
    const both = await me({ ...bearer(token), ...withKey(key) })
    expect(both.json().principal).toMatchObject({ type: 'apiKey', keyId: apiKey.id })
    const forged = await me({ ...bearer(token), ...withKey(`${apiKey.prefix}_forged`) })
    expect(forged.statusCode).toBe(401)
  })

  it('refuses a wrong secret with a real prefix like a bad token', async () => {
    const { token } = await signUp()
    const { key, apiKey } = await newKey(token)
    const forged = `${apiKey.prefix}_${randomBytes(32).toString('base64url')}`
    // Uncached (database path), then cached (memory path): both refuse.
    for (const attempt of [forged, key, forged]) {
      const response = await me(withKey(attempt))
      expect(response.statusCode).toBe(attempt === key ? 200 : 401)
    }
    const bad = await me(withKey(forged))
    expect(bad.json().code).toBe('ACME_AUTH_INVALID_TOKEN')
    expect(bad.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
    expect((await me(bearer(forged))).statusCode).toBe(401)
    expect((await me(withKey('ak_nonsense'))).statusCode).toBe(401)
  })

  it('stops a revoked key at once on this instance', async () => {
    const { token } = await signUp()
    const { key, apiKey } = await newKey(token)
    expect((await me(withKey(key))).statusCode).toBe(200)
    const revoke = await t.app.inject({
      method: 'DELETE',
      url: `/auth/api-keys/${apiKey.id}`,
      headers: bearer(token),
    })
    expect(revoke.statusCode).toBe(204)
    expect((await me(withKey(key))).statusCode).toBe(401)
    const list = await t.app.inject({
      method: 'GET',
      url: '/auth/api-keys',
      headers: bearer(token),
    })
    expect(list.json().items).toEqual([])
  })

  it('stops an expired key, cached or not', async () => {
    const { token } = await signUp()
    const expiresAt = new Date(clock.now.getTime() + 10_000).toISOString()
    const { key } = await newKey(token, { name: 'short', expiresAt })
    expect((await me(withKey(key))).statusCode).toBe(200)
    clock.advance(11)
    expect((await me(withKey(key))).statusCode).toBe(401)
  })

  it('trusts a cached key for at most 30 s after a change made elsewhere', async () => {
    const { token } = await signUp()
    const { key, apiKey } = await newKey(token)
    expect((await me(withKey(key))).statusCode).toBe(200)
    // As another instance would: the row changes, this instance's cache does not hear of it.
    await db.apiKey.update({ where: { id: apiKey.id }, data: { revokedAt: clock.now } })
    expect((await me(withKey(key))).statusCode).toBe(200)
    clock.advance(31)
    expect((await me(withKey(key))).statusCode).toBe(401)
  })

  it('refuses the key of an owner who is no longer active', async () => {
    const { token, email } = await signUp()
    const { key } = await newKey(token)
    await db.user.update({ where: { email }, data: { status: 'suspended' } })
    expect((await me(withKey(key))).statusCode).toBe(401)
  })

  it('records lastUsedAt at most once a minute', async () => {
    const { token } = await signUp()
    const { key, apiKey } = await newKey(token)
    const lastUsed = async () =>
      (await db.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt?.getTime()
    await me(withKey(key))
    const first = clock.now.getTime()
    expect(await lastUsed()).toBe(first)
    clock.advance(20)
    await me(withKey(key))
    expect(await lastUsed()).toBe(first)
    clock.advance(41)
    await me(withKey(key))
    expect(await lastUsed()).toBe(clock.now.getTime())
  })
})

describe('managing keys', () => {
  it('answers one 404 for another user’s key and an unknown id, and keeps the key', async () => {
    const owner = await signUp()
    const other = await signUp()
    const { key, apiKey } = await newKey(owner.token)
    const attempt = (id: string) =>
      t.app.inject({ method: 'DELETE', url: `/auth/api-keys/${id}`, headers: bearer(other.token) })
    const theirs = await attempt(apiKey.id)
    const unknown = await attempt(randomUUID())
    expect(theirs.statusCode).toBe(404)
    expect(theirs.json().code).toBe('ACME_CORE_NOT_FOUND')
    expect(strip(theirs.json())).toEqual(strip(unknown.json()))
    expect((await me(withKey(key))).statusCode).toBe(200)
  })

  it('refuses to let an API key list, create or revoke keys', async () => {
    const { token } = await signUp()
    const { key, apiKey } = await newKey(token)
    for (const request of [
      { method: 'GET' as const, url: '/auth/api-keys' },
      { method: 'POST' as const, url: '/auth/api-keys', payload: { name: 'more' } },
      { method: 'DELETE' as const, url: `/auth/api-keys/${apiKey.id}` },
    ]) {
      for (const headers of [withKey(key), bearer(key)]) {
        const response = await t.app.inject({ ...request, headers })
        expect(response.statusCode).toBe(403)
        expect(response.json().code).toBe('ACME_AUTH_API_KEY_NOT_ALLOWED')
      }
    }
    const list = await t.app.inject({
      method: 'GET',
      url: '/auth/api-keys',
      headers: bearer(token),
    })
    expect(list.json().items).toHaveLength(1)
    expect((await me(withKey(key))).statusCode).toBe(200)
  })

  it('needs authentication', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/auth/api-keys' })
    expect(response.statusCode).toBe(401)
  })
})
