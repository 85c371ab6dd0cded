import { randomUUID } from 'node:crypto'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { type AuthTestApp, bearer, createAuthApp, login, register } from './support/app.js'

let t: AuthTestApp
let db: AuthDb
let users = 0

beforeAll(async () => {
  t = await createAuthApp(
    {},
    {
      label: 'auth_tenant',
      // What the tenancy plugin will read: the principal of the request.
      routes: (app) => {
        app.get('/whoami', { config: { auth: 'required' } }, async (request) => request.principal)
      },
    },
  )
  db = t.app.prisma as unknown as AuthDb
})
afterAll(async () => {
  await t?.close()
})

interface Signed {
  accessToken: string
  refreshToken: string
  sessionId: string
}

async function signIn(): Promise<Signed> {
  users += 1
  const email = `tenant${users}@initech.test`
  await register(t, email)
  const response = await login(t, email)
  expect(response.statusCode).toBe(200)
  const body = response.json()
  const claims = decodeJwt(body.accessToken)
  return { ...body, sessionId: String(claims.sid) }
}

async function refresh(refreshToken: string) {
  return t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
}

const activeTenant = async (sessionId: string) =>
  (await db.authSession.findUniqueOrThrow({ where: { id: sessionId } })).activeTenantId

describe('active tenant in access tokens', () => {
  it('logs in with no tenant: no tid claim, a null principal tenant', async () => {
    const signed = await signIn()
    expect(decodeJwt(signed.accessToken)).not.toHaveProperty('tid')
    expect(await activeTenant(signed.sessionId)).toBeNull()
    const whoami = await t.app.inject({ url: '/whoami', headers: bearer(signed.accessToken) })
    expect(whoami.json()).toMatchObject({ type: 'user', tenantId: null })
  })

  it('switches: stored on the session, tid in the new token, kept by refresh, cleared by null', async () => {
    const signed = await signIn()
    const tenantId = randomUUID()

    const switched = await t.app.auth.sessions.switchTenant(signed.sessionId, tenantId)
    expect(switched.expiresIn).toBe(900)
    const claims = decodeJwt(switched.accessToken)
    expect(claims).toMatchObject({ tid: tenantId, sid: signed.sessionId })
    expect(await activeTenant(signed.sessionId)).toBe(tenantId)
    // The new token verifies like any other and the principal carries the tenant.
    const whoami = await t.app.inject({ url: '/whoami', headers: bearer(switched.accessToken) })
    expect(whoami.statusCode).toBe(200)
    expect(whoami.json()).toMatchObject({ type: 'user', sessionId: signed.sessionId, tenantId })

    // Refresh keeps the session's tenant, however many times.
    const first = await refresh(signed.refreshToken)
    expect(first.statusCode).toBe(200)
    expect(decodeJwt(first.json().accessToken).tid).toBe(tenantId)
    const second = await refresh(first.json().refreshToken)
    expect(decodeJwt(second.json().accessToken).tid).toBe(tenantId)

    // Another tenant, then none.
    const other = randomUUID()
    expect(
      decodeJwt((await t.app.auth.sessions.switchTenant(signed.sessionId, other)).accessToken).tid,
    ).toBe(other)
    const cleared = await t.app.auth.sessions.switchTenant(signed.sessionId, null)
    expect(decodeJwt(cleared.accessToken)).not.toHaveProperty('tid')
    expect(await activeTenant(signed.sessionId)).toBeNull()
    const third = await refresh(second.json().refreshToken)
    expect(third.statusCode).toBe(200)
    expect(decodeJwt(third.json().accessToken)).not.toHaveProperty('tid')
  })

  it('a switch inside the refresh grace window is not undone by a replayed refresh', async () => {
    const signed = await signIn()
    const rotated = await refresh(signed.refreshToken)
    expect(decodeJwt(rotated.json().accessToken)).not.toHaveProperty('tid')
    const tenantId = randomUUID()
    await t.app.auth.sessions.switchTenant(signed.sessionId, tenantId)
    // Same token again within 2 s: the same successor, but the tenant as it is now.
    const replay = await refresh(signed.refreshToken)
    expect(replay.statusCode).toBe(200)
    expect(replay.json().refreshToken).toBe(rotated.json().refreshToken)
    expect(decodeJwt(replay.json().accessToken).tid).toBe(tenantId)
  })

  it('refuses revoked, unknown and expired sessions, and changes nothing', async () => {
    const signed = await signIn()
    await t.app.auth.sessions.revoke(signed.sessionId, 'logout')
    await expect(t.app.auth.sessions.switchTenant(signed.sessionId, randomUUID())).rejects.toThrow(
      expect.objectContaining({ code: 'ACME_AUTH_INVALID_TOKEN', statusCode: 401 }),
    )
    expect(await activeTenant(signed.sessionId)).toBeNull()

    await expect(t.app.auth.sessions.switchTenant(randomUUID(), null)).rejects.toMatchObject({
      code: 'ACME_AUTH_INVALID_TOKEN',
    })
    await expect(t.app.auth.sessions.switchTenant('not-a-uuid', null)).rejects.toMatchObject({
      code: 'ACME_AUTH_INVALID_TOKEN',
    })

    const stale = await signIn()
    t.clock.advance(31 * 24 * 3_600)
    try {
      await expect(
        t.app.auth.sessions.switchTenant(stale.sessionId, randomUUID()),
      ).rejects.toMatchObject({ code: 'ACME_AUTH_INVALID_TOKEN' })
      expect(await activeTenant(stale.sessionId)).toBeNull()
    } finally {
      t.clock.advance(-31 * 24 * 3_600)
    }
  })

  it('refuses a tenant id that is not a UUID, before touching the session', async () => {
    const signed = await signIn()
    await expect(t.app.auth.sessions.switchTenant(signed.sessionId, 'acme')).rejects.toThrow(
      TypeError,
    )
    expect(await activeTenant(signed.sessionId)).toBeNull()
  })
})
