import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { type AuthTestApp, bearer, createAuthApp, login, register } from './support/app.js'

let t: AuthTestApp
let db: AuthDb
let users = 0
const events: Array<{ name: string; userId: string }> = []

beforeAll(async () => {
  t = await createAuthApp(
    { throttle: { ipMax: 10_000 } },
    {
      label: 'auth_suspend',
      routes: (app) => {
        app.get('/whoami', { config: { auth: 'required', apiKeys: 'allow' } }, async () => ({}))
      },
    },
  )
  db = t.app.prisma as unknown as AuthDb
  t.app.events.on('user.suspended', (event) => {
    events.push({ name: event.name, userId: event.payload.userId })
  })
  t.app.events.on('user.reactivated', (event) => {
    events.push({ name: event.name, userId: event.payload.userId })
  })
})
afterAll(async () => {
  await t?.close()
})

async function signedIn() {
  users += 1
  const email = `suspend${users}@initech.test`
  await register(t, email)
  const first = (await login(t, email)).json()
  const second = (await login(t, email)).json()
  const { id } = await db.user.findUniqueOrThrow({ where: { email } })
  const key: string = (
    await t.app.inject({
      method: 'POST',
      url: '/auth/api-keys',
      headers: bearer(first.accessToken),
      payload: { name: 'ci' },
    })
  ).json().key
  return { email, id, first, second, key }
}

const me = (headers: Record<string, string>) =>
  t.app.inject({ method: 'GET', url: '/auth/me', headers })
/** Keys are refused on /auth/me whatever their state: a route open to keys shows whether one works. */
const asKey = (key: string) =>
  t.app.inject({ method: 'GET', url: '/whoami', headers: { 'x-api-key': key } })
const refresh = (refreshToken: string) =>
  t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
const comparable = (body: Record<string, unknown>) => {
  const { requestId: _requestId, instance: _instance, ...rest } = body
  return rest
}

describe('app.auth.accounts.suspend (SES-01: admin disabling the user)', () => {
  it('refuses the existing access tokens, refresh tokens and API keys at once', async () => {
    const user = await signedIn()
    // Warm: the token and the key are verified and cached before the suspension.
    expect((await me(bearer(user.first.accessToken))).statusCode).toBe(200)
    expect((await asKey(user.key)).statusCode).toBe(200)

    expect(await t.app.auth.accounts.suspend(user.id)).toBe(true)

    for (const device of [user.first, user.second]) {
      const response = await me(bearer(device.accessToken))
      expect(response.statusCode).toBe(401)
      expect(response.json().code).toBe('ACME_AUTH_INVALID_TOKEN')
      const refreshed = await refresh(device.refreshToken)
      expect(refreshed.statusCode).toBe(401)
      expect(refreshed.json().code).toBe('ACME_AUTH_INVALID_REFRESH_TOKEN')
    }
    expect((await asKey(user.key)).statusCode).toBe(401)

    const row = await db.user.findUniqueOrThrow({ where: { id: user.id } })
    expect(row.status).toBe('suspended')
    const sessions = await db.authSession.findMany({ where: { userId: user.id } })
    expect(sessions).toHaveLength(2)
    for (const session of sessions) expect(session.revokedReason).toBe('suspended')
    expect(events).toContainEqual({ name: 'user.suspended', userId: user.id })
  })

  it('login answers exactly what a wrong password answers, without revealing the suspension', async () => {
    const suspended = await signedIn()
    const active = await signedIn()
    await t.app.auth.accounts.suspend(suspended.id)

    const right = await login(t, suspended.email)
    const wrong = await login(t, active.email, 'not the password at all')
    const unknown = await login(t, 'nobody-here@initech.test')
    expect(right.statusCode).toBe(401)
    expect(wrong.statusCode).toBe(401)
    expect(comparable(right.json())).toEqual(comparable(wrong.json()))
    expect(comparable(right.json())).toEqual(comparable(unknown.json()))
    expect(right.json().code).toBe('ACME_AUTH_INVALID_CREDENTIALS')
    expect(right.body).not.toMatch(/suspend/i)
  })

  it('reactivate lets the user log in again; the ended sessions stay ended', async () => {
    const user = await signedIn()
    await t.app.auth.accounts.suspend(user.id)
    expect(await t.app.auth.accounts.reactivate(user.id)).toBe(true)
    expect(events).toContainEqual({ name: 'user.reactivated', userId: user.id })
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).status).toBe('active')
    expect((await refresh(user.first.refreshToken)).statusCode).toBe(401)
    expect((await me(bearer(user.first.accessToken))).statusCode).toBe(401)
    const again = await login(t, user.email)
    expect(again.statusCode).toBe(200)
    expect((await me(bearer(again.json().accessToken))).statusCode).toBe(200)
    // API keys are not revoked by a suspension: they work again with the account.
    expect((await asKey(user.key)).statusCode).toBe(200)
  })

  it('answers false for an unknown or malformed id and touches nothing', async () => {
    const before = events.length
    expect(await t.app.auth.accounts.suspend(randomUUID())).toBe(false)
    expect(await t.app.auth.accounts.suspend('not-a-uuid')).toBe(false)
    expect(await t.app.auth.accounts.reactivate(randomUUID())).toBe(false)
    expect(events).toHaveLength(before)
  })
})
