import { randomBytes } from 'node:crypto'
import { AcmeConfigError } from '@acme/core'
import type { LightMyRequestResponse } from 'fastify'
import * as OTPAuth from 'otpauth'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authOptionsSchema } from '../src/options.js'
import { resolveRefreshCookie } from '../src/refresh-cookie.js'
import { type AuthTestApp, bearer, createAuthApp, register } from './support/app.js'

const PASSWORD = 'correct horse battery'
const DAY = 24 * 3_600
const COOKIE = '__Host-acme_refresh'
const CSRF = { 'x-requested-with': 'fetch' }

let t: AuthTestApp
let users = 0

beforeAll(async () => {
  t = await createAuthApp(
    {
      refreshCookie: { enabled: true },
      sessions: { absoluteSeconds: 30 * DAY },
      mfa: { encryptionKey: randomBytes(32).toString('base64') },
      throttle: { ipMax: 10_000 },
    },
    { label: 'auth_cookie' },
  )
})
afterAll(async () => {
  await t?.close()
})

const post = (url: string, payload?: object, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) })

function refreshCookieOf(response: LightMyRequestResponse) {
  const cookies = response.cookies.filter((cookie) => cookie.name === COOKIE)
  expect(cookies).toHaveLength(1)
  return cookies[0] as (typeof cookies)[number]
}

const withCookie = (value: string, headers: Record<string, string> = CSRF) => ({
  ...headers,
  cookie: `${COOKIE}=${value}`,
})

async function signIn() {
  users += 1
  const email = `cookie${users}@initech.test`
  await register(t, email)
  const response = await post('/auth/login', { email, password: PASSWORD })
  expect(response.statusCode).toBe(200)
  return { email, response, cookie: refreshCookieOf(response).value }
}

describe('refresh cookie: defaults', () => {
  it('is __Host- at / when secure and host-only, __Secure- when scoped, plain when not secure', () => {
    const resolve = (option: object) =>
      resolveRefreshCookie(
        authOptionsSchema.parse({ jwt: { issuer: 'x' }, refreshCookie: option }).refreshCookie,
        '/auth',
      )
    expect(resolve({})).toBeNull()
    expect(resolve({ enabled: true })).toEqual({
      name: '__Host-acme_refresh',
      path: '/',
      sameSite: 'strict',
      secure: true,
      domain: undefined,
    })
    expect(resolve({ enabled: true, path: '/auth' })).toMatchObject({
      name: '__Secure-acme_refresh',
      path: '/auth',
    })
    expect(resolve({ enabled: true, domain: 'initech.test' })).toMatchObject({
      name: '__Secure-acme_refresh',
      path: '/auth',
      domain: 'initech.test',
    })
    expect(resolve({ enabled: true, secure: false, sameSite: 'lax' })).toMatchObject({
      name: 'acme_refresh',
      path: '/auth',
      sameSite: 'lax',
      secure: false,
    })
  })

  it('refuses a __Host- cookie browsers would drop, at startup', async () => {
    for (const refreshCookie of [
      { enabled: true, name: '__Host-x', path: '/auth' },
      { enabled: true, name: '__Host-x', domain: 'initech.test' },
      { enabled: true, name: '__Secure-x', secure: false },
    ]) {
      await expect(
        createAuthApp({ refreshCookie }, { label: 'auth_cookie_bad', redis: false }),
      ).rejects.toThrow(AcmeConfigError)
    }
  })
})

describe('refresh cookie: login and refresh', () => {
  it('login sets an httpOnly, Secure, SameSite=Strict cookie for the session and no body token', async () => {
    const { response } = await signIn()
    const body = response.json()
    expect(body).toMatchObject({ tokenType: 'Bearer', accessToken: expect.any(String) })
    expect(body).not.toHaveProperty('refreshToken')
    const cookie = refreshCookieOf(response)
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(cookie).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
      path: '/',
      maxAge: 30 * DAY,
    })
    expect(cookie).not.toHaveProperty('domain')
    const raw = String(response.headers['set-cookie'])
    expect(raw).toMatch(/HttpOnly/)
    expect(raw).toMatch(/Secure/)
    expect(raw).toMatch(/SameSite=Strict/)
    expect(raw).not.toContain(body.accessToken)
  })

  it('refresh reads the cookie, rotates it, and lives only as long as the session can', async () => {
    const { cookie } = await signIn()
    t.clock.advance(5 * DAY)
    const response = await post('/auth/refresh', undefined, withCookie(cookie))
    expect(response.statusCode).toBe(200)
    expect(response.json()).not.toHaveProperty('refreshToken')
    const next = refreshCookieOf(response)
    expect(next.value).not.toBe(cookie)
    expect(next).toMatchObject({ httpOnly: true, secure: true, maxAge: 25 * DAY })
    // The rotated cookie works; an empty JSON body is fine too.
    const again = await post('/auth/refresh', {}, withCookie(next.value))
    expect(again.statusCode).toBe(200)
  })

  it('detects reuse of a spent cookie: the session ends and the cookie is cleared', async () => {
    const { cookie } = await signIn()
    const rotated = refreshCookieOf(await post('/auth/refresh', undefined, withCookie(cookie)))
    t.clock.advance(5)
    const reuse = await post('/auth/refresh', undefined, withCookie(cookie))
    expect(reuse.statusCode).toBe(401)
    expect(reuse.json().code).toBe('ACME_AUTH_TOKEN_REUSE')
    const cleared = refreshCookieOf(reuse)
    expect(cleared.value).toBe('')
    expect(cleared.maxAge).toBe(0)
    // The whole family is gone, the legitimate successor included.
    const successor = await post('/auth/refresh', undefined, withCookie(rotated.value))
    expect(successor.statusCode).toBe(401)
  })

  it('refuses the cookie without the CSRF header, and does not spend it', async () => {
    const { cookie } = await signIn()
    const forged = await post('/auth/refresh', undefined, withCookie(cookie, {}))
    expect(forged.statusCode).toBe(403)
    expect(forged.headers['content-type']).toContain('application/problem+json')
    expect(forged.json().code).toBe('ACME_AUTH_CSRF_HEADER_REQUIRED')
    expect(forged.headers['set-cookie']).toBeUndefined()
    const blank = await post(
      '/auth/refresh',
      undefined,
      withCookie(cookie, { 'x-requested-with': ' ' }),
    )
    expect(blank.statusCode).toBe(403)
    expect((await post('/auth/refresh', undefined, withCookie(cookie))).statusCode).toBe(200)
  })

  it('still takes a token in the body, and answers 401 with neither', async () => {
    const { cookie } = await signIn()
    const viaBody = await post('/auth/refresh', { refreshToken: cookie })
    expect(viaBody.statusCode).toBe(200)
    expect(viaBody.json()).not.toHaveProperty('refreshToken')
    expect(refreshCookieOf(viaBody).value).not.toBe(cookie)
    const nothing = await post('/auth/refresh', undefined, CSRF)
    expect(nothing.statusCode).toBe(401)
    expect(nothing.json().code).toBe('ACME_AUTH_INVALID_REFRESH_TOKEN')
    const extra = await post('/auth/refresh', { refreshToken: cookie, userId: 'x' }, CSRF)
    expect(extra.statusCode).toBe(400)
  })

  it('the MFA step sets the cookie too', async () => {
    const { email, response } = await signIn()
    const { accessToken } = response.json()
    const { secret } = (await post('/auth/mfa/totp/setup', {}, bearer(accessToken))).json()
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) })
    const enabled = await post(
      '/auth/mfa/totp/enable',
      { code: totp.generate({ timestamp: t.clock.now.getTime() }) },
      bearer(accessToken),
    )
    expect(enabled.statusCode).toBe(200)
    const challenge = await post('/auth/login', { email, password: PASSWORD })
    expect(challenge.json()).toMatchObject({ mfaRequired: true })
    expect(challenge.headers['set-cookie']).toBeUndefined()
    const done = await post('/auth/login/mfa', {
      mfaToken: challenge.json().mfaToken,
      code: enabled.json().recoveryCodes[0],
    })
    expect(done.statusCode).toBe(200)
    expect(done.json()).not.toHaveProperty('refreshToken')
    expect(refreshCookieOf(done)).toMatchObject({ httpOnly: true, maxAge: 30 * DAY })
  })
})

describe('refresh cookie: logout', () => {
  it('logout with only the cookie ends its session and clears the cookie', async () => {
    const { cookie, response } = await signIn()
    const { accessToken } = response.json()
    const forged = await post('/auth/logout', undefined, withCookie(cookie, {}))
    expect(forged.statusCode).toBe(403)
    expect(forged.json().code).toBe('ACME_AUTH_CSRF_HEADER_REQUIRED')
    expect((await t.app.inject({ url: '/auth/me', headers: bearer(accessToken) })).statusCode).toBe(
      200,
    )

    const out = await post('/auth/logout', undefined, withCookie(cookie))
    expect(out.statusCode).toBe(204)
    expect(refreshCookieOf(out)).toMatchObject({ value: '', maxAge: 0, path: '/' })
    expect((await t.app.inject({ url: '/auth/me', headers: bearer(accessToken) })).statusCode).toBe(
      401,
    )
    expect((await post('/auth/refresh', undefined, withCookie(cookie))).statusCode).toBe(401)
  })

  it('logout and logout-all with the access token clear the cookie', async () => {
    for (const url of ['/auth/logout', '/auth/logout-all']) {
      const { cookie, response } = await signIn()
      const out = await post(url, undefined, bearer(response.json().accessToken))
      expect(out.statusCode).toBe(204)
      expect(refreshCookieOf(out)).toMatchObject({ value: '', maxAge: 0 })
      expect((await post('/auth/refresh', undefined, withCookie(cookie))).statusCode).toBe(401)
    }
  })

  it('logout without any credential is 401', async () => {
    const out = await post('/auth/logout')
    expect(out.statusCode).toBe(401)
    expect(out.json().code).toBe('ACME_AUTH_UNAUTHENTICATED')
  })
})
