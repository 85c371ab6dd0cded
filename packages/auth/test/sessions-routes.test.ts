import { randomUUID } from 'node:crypto'
import type { TestApp } from '@acme/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, createAuthApp } from './support/app.js'
import { testClock } from './support/clock.js'

const PASSWORD = 'correct horse battery'
const REAUTH_SECONDS = 300

const clock = testClock()
let t: TestApp

beforeAll(async () => {
  t = await createAuthApp(
    { reauthenticationSeconds: REAUTH_SECONDS },
    { label: 'auth_sessions', clock },
  )
})
afterAll(async () => {
  await t?.close()
})

interface Device {
  accessToken: string
  refreshToken: string
}

async function login(email: string, userAgent: string): Promise<Device> {
  await t.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password: PASSWORD },
  })
  const response = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'user-agent': userAgent },
    payload: { email, password: PASSWORD },
  })
  expect(response.statusCode).toBe(200)
  return response.json()
}

interface SessionItem {
  id: string
  userAgent: string | null
  ip: string | null
  createdAt: string
  lastUsedAt: string
  current: boolean
}

async function listSessions(device: Device) {
  return t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(device.accessToken) })
}

async function sessionIds(device: Device): Promise<Record<string, string>> {
  const items: SessionItem[] = (await listSessions(device)).json().items
  return Object.fromEntries(items.map((item) => [item.userAgent, item.id]))
}

function end(device: Device, sessionId: string) {
  return t.app.inject({
    method: 'DELETE',
    url: `/auth/sessions/${sessionId}`,
    headers: bearer(device.accessToken),
  })
}

function refresh(device: Device) {
  return t.app.inject({
    method: 'POST',
    url: '/auth/refresh',
    payload: { refreshToken: device.refreshToken },
  })
}

const comparable = (body: Record<string, unknown>) => {
  const { requestId: _requestId, instance: _instance, ...rest } = body
  return rest
}

describe('SES-02: my sessions', () => {
  it('needs an access token', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/auth/sessions' })
    expect(response.statusCode).toBe(401)
    const removal = await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${randomUUID()}` })
    expect(removal.statusCode).toBe(401)
  })

  it('lists 3 devices, ends one after a recent login, and asks to re-authenticate later', async () => {
    const phone = await login('ann@initech.test', 'Phone/1.0')
    const laptop = await login('ann@initech.test', 'Laptop/1.0')
    const tablet = await login('ann@initech.test', 'Tablet/1.0')

    const listed = await listSessions(laptop)
    expect(listed.statusCode).toBe(200)
    const items: SessionItem[] = listed.json().items
    expect(items.map((item) => item.userAgent).sort()).toEqual([
      'Laptop/1.0',
      'Phone/1.0',
      'Tablet/1.0',
    ])
    expect(items.filter((item) => item.current).map((item) => item.userAgent)).toEqual([
      'Laptop/1.0',
    ])
    expect(items[0]).toMatchObject({ ip: '127.0.0.1', createdAt: expect.any(String) })
    const ids = await sessionIds(laptop)

    // Within the re-authentication window: only the phone is ended, at once.
    expect((await end(laptop, ids['Phone/1.0'] ?? '')).statusCode).toBe(204)
    expect((await listSessions(phone)).statusCode).toBe(401)
    expect((await refresh(phone)).statusCode).toBe(401)
    expect((await listSessions(tablet)).statusCode).toBe(200)
    expect(Object.keys(await sessionIds(laptop)).sort()).toEqual(['Laptop/1.0', 'Tablet/1.0'])

    // The laptop's login is now too old to end another device.
    clock.advance(REAUTH_SECONDS + 1)
    const stale = await end(laptop, ids['Tablet/1.0'] ?? '')
    expect(stale.statusCode).toBe(403)
    expect(stale.json().code).toBe('ACME_AUTH_REAUTHENTICATION_REQUIRED')
    expect((await listSessions(tablet)).statusCode).toBe(200)

    // Logging in again is the re-authentication: the new session may end the tablet.
    const fresh = await login('ann@initech.test', 'Laptop/2.0')
    expect((await end(fresh, ids['Tablet/1.0'] ?? '')).statusCode).toBe(204)
    expect((await listSessions(tablet)).statusCode).toBe(401)
    expect((await refresh(tablet)).statusCode).toBe(401)

    // Ending the current session needs no recent login.
    expect((await end(laptop, ids['Laptop/1.0'] ?? '')).statusCode).toBe(204)
    expect((await listSessions(laptop)).statusCode).toBe(401)
    expect((await listSessions(fresh)).statusCode).toBe(200)
  })

  it("answers the same 404 for another user's session and an unknown id", async () => {
    const mine = await login('bea@initech.test', 'Phone/1.0')
    const theirs = await login('cal@initech.test', 'Phone/1.0')
    const theirId = (await sessionIds(theirs))['Phone/1.0'] ?? ''

    const foreign = await end(mine, theirId)
    const unknown = await end(mine, randomUUID())
    expect(foreign.statusCode).toBe(404)
    expect(unknown.statusCode).toBe(404)
    expect(foreign.json().code).toBe('ACME_AUTH_SESSION_NOT_FOUND')
    expect(comparable(foreign.json())).toEqual(comparable(unknown.json()))
    // Still 404 once the caller's login is stale: ownership is checked before re-authentication.
    clock.advance(REAUTH_SECONDS + 1)
    expect(comparable((await end(mine, theirId)).json())).toEqual(comparable(unknown.json()))
    expect((await listSessions(theirs)).statusCode).toBe(200)

    const malformed = await end(mine, 'not-a-uuid')
    expect(malformed.statusCode).toBe(400)
  })
})
