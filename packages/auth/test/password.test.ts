import { createHash, randomBytes } from 'node:crypto'
import {
  createTestApp,
  TEST_BRAND,
  TEST_REDIS_URL,
  type TestApp,
  type TestAppOptions,
} from '@acme/test-support'
import type { LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { PrismaClient } from '../src/generated/prisma/client.js'
import acmeAuth from '../src/index.js'
import { bearer, migrationsDir } from './support/app.js'
import { testClock } from './support/clock.js'

const PASSWORD = 'correct horse battery'
const NEW_PASSWORD = 'a brand new passphrase 7'
const MINUTE = 60

interface PasswordTestApp extends TestApp {
  clock: { now: Date; advance(seconds: number): void }
  db: AuthDb
}

/** Core and auth, on a database and Redis prefix of this file's own. */
async function createApp(
  harness: Pick<TestAppOptions, 'redis' | 'core'> = {},
): Promise<PasswordTestApp> {
  const clock = testClock()
  const now = () => clock.now
  const app = await createTestApp({
    label: 'auth_password',
    migrationsDir,
    PrismaClient,
    ...harness,
    // Core's global per-IP limit is not under test here, and this file sends more than its 100
    // requests a minute from inject's one address.
    core: { rateLimit: { max: 1_000 }, ...harness.core },
    setup: async (instance) => {
      await instance.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' }, clock: now })
    },
  })
  return Object.assign(app, { clock, db: app.app.prisma as unknown as AuthDb })
}

let t: PasswordTestApp
let users = 0

beforeAll(async () => {
  t = await createApp()
})
afterAll(async () => {
  await t?.close()
})

async function post(
  url: string,
  payload?: object,
  headers: Record<string, string> = {},
  remoteAddress?: string,
) {
  return t.app.inject({
    method: 'POST',
    url,
    headers,
    ...(payload ? { payload } : {}),
    ...(remoteAddress ? { remoteAddress } : {}),
  })
}

/** A registered account with an unused address, so mail assertions never see another test's. */
async function newUser(): Promise<{ email: string; id: string }> {
  users += 1
  const email = `pw${users}-${randomBytes(3).toString('hex')}@initech.test`
  expect((await post('/auth/register', { email, password: PASSWORD })).statusCode).toBe(202)
  const row = await t.db.user.findUniqueOrThrow({ where: { email }, select: { id: true } })
  return { email, id: row.id }
}

async function login(email: string, password = PASSWORD) {
  return post('/auth/login', { email, password })
}

async function passwordHash(id: string): Promise<string> {
  const row = await t.db.user.findUniqueOrThrow({ where: { id }, select: { passwordHash: true } })
  return row.passwordHash
}

/** Sending is a job: wait until the app has delivered `count` mails to `to` with this subject. */
async function mails(to: string, subject: string, count = 1) {
  const deadline = Date.now() + 5_000
  for (;;) {
    const found = t.app.mailer.sent.filter(
      (mail) => mail.to === to && mail.subject.includes(subject),
    )
    if (found.length >= count || Date.now() > deadline) return found
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Requests a reset and returns the link from the newest reset mail. */
async function requestReset(email: string, headers: Record<string, string> = {}): Promise<URL> {
  const before = (await mails(email, 'Reset your', 0)).length
  const response = await post('/auth/password/forgot', { email }, headers)
  expect(response.statusCode).toBe(202)
  const found = await mails(email, 'Reset your', before + 1)
  expect(found).toHaveLength(before + 1)
  const text = found.at(-1)?.text ?? ''
  const link = /https?:\/\/\S+/.exec(text)?.[0]
  expect(link).toBeDefined()
  return new URL(link ?? '')
}

const tokenOf = (link: URL) => link.searchParams.get('token') ?? ''

async function reset(token: string, password = NEW_PASSWORD, remoteAddress?: string) {
  return post('/auth/password/reset', { token, password }, {}, remoteAddress)
}

const codeOf = (response: LightMyRequestResponse) => response.json().code

describe('RST-01: reset token quality', () => {
  it('mails a 256-bit base64url token and stores only its SHA-256', async () => {
    const { email, id } = await newUser()
    const link = await requestReset(email)
    const token = tokenOf(link)
    expect(token).toMatch(/^[A-Za-z0-9_-]{22,}$/)
    expect(Buffer.from(token, 'base64url')).toHaveLength(32)

    // Only the reset token: registration may also have issued a verification one.
    const rows = await t.db.oneTimeToken.findMany({
      where: { userId: id, purpose: 'password_reset' },
    })
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      purpose: 'password_reset',
      usedAt: null,
      tokenHash: createHash('sha256').update(token).digest('hex'),
    })
    // No column holds the token in any form a reader could replay.
    for (const value of Object.values(rows[0] ?? {})) {
      expect(String(value)).not.toContain(token)
    }
    // 30 minutes by the injected clock.
    expect((rows[0]?.expiresAt.getTime() ?? 0) - t.clock.now.getTime()).toBe(30 * MINUTE * 1_000)
  })

  it('states the expiry in the mail and escapes nothing into the link', async () => {
    const { email } = await newUser()
    await requestReset(email)
    const [mail] = await mails(email, 'Reset your')
    expect(mail?.text).toContain('expires in 30 minutes')
    expect(mail?.html).toContain('href="https://api.initech.test/reset-password?token=')
  })
})

describe('RST-02: single use, expiry, supersede', () => {
  it('a token works once', async () => {
    const { email } = await newUser()
    const token = tokenOf(await requestReset(email))
    expect((await reset(token)).statusCode).toBe(200)
    const again = await reset(token, 'yet another passphrase 9')
    expect(again.statusCode).toBe(400)
    expect(codeOf(again)).toBe('ACME_AUTH_INVALID_RESET_TOKEN')
    expect((await login(email, NEW_PASSWORD)).statusCode).toBe(200)
  })

  it('two resets with one token at once: exactly one wins', async () => {
    const { email } = await newUser()
    const token = tokenOf(await requestReset(email))
    const results = await Promise.all([
      reset(token, 'first parallel passphrase'),
      reset(token, 'second parallel passphrase'),
    ])
    expect(results.map((response) => response.statusCode).sort()).toEqual([200, 400])
    const winner = results[0]?.statusCode === 200 ? 'first' : 'second'
    expect((await login(email, `${winner} parallel passphrase`)).statusCode).toBe(200)
  })

  it('a token is refused 31 minutes later', async () => {
    const { email, id } = await newUser()
    const before = await passwordHash(id)
    const token = tokenOf(await requestReset(email))
    t.clock.advance(31 * MINUTE)
    const late = await reset(token)
    expect(late.statusCode).toBe(400)
    expect(codeOf(late)).toBe('ACME_AUTH_INVALID_RESET_TOKEN')
    expect(await passwordHash(id)).toBe(before)
  })

  it('requesting a second reset invalidates the first token', async () => {
    const { email } = await newUser()
    const first = tokenOf(await requestReset(email))
    const second = tokenOf(await requestReset(email))
    expect(second).not.toBe(first)
    expect(codeOf(await reset(first))).toBe('ACME_AUTH_INVALID_RESET_TOKEN')
    expect((await reset(second)).statusCode).toBe(200)
  })
})

describe('RST-03: the Host header does not build the link', () => {
  it('mails a link on the configured base URL whatever Host and X-Forwarded-Host say', async () => {
    const { email } = await newUser()
    const link = await requestReset(email, {
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
    })
    expect(link.origin).toBe(TEST_BRAND.baseUrl)
    expect(link.pathname).toBe('/reset-password')
    const [mail] = await mails(email, 'Reset your')
    expect(`${mail?.text}${mail?.html}`).not.toContain('evil.example')
  })
})

describe('RST-04: after a reset', () => {
  it('ends every session, signs nobody in, mails the owner, sends no referrer', async () => {
    const { email, id } = await newUser()
    const phone = (await login(email)).json()
    const laptop = (await login(email)).json()
    const token = tokenOf(await requestReset(email))

    const response = await reset(token)
    expect(response.statusCode).toBe(200)
    expect(response.headers['referrer-policy']).toBe('no-referrer')
    expect(Object.keys(response.json())).toEqual(['message'])
    expect(response.body).not.toMatch(/accessToken|refreshToken/)
    expect(response.headers['set-cookie']).toBeUndefined()

    for (const device of [phone, laptop]) {
      const me = await t.app.inject({
        method: 'GET',
        url: '/auth/me',
        headers: bearer(device.accessToken),
      })
      expect(me.statusCode).toBe(401)
      const refresh = await post('/auth/refresh', { refreshToken: device.refreshToken })
      expect(refresh.statusCode).toBe(401)
    }
    const live = await t.db.authSession.count({ where: { userId: id, revokedAt: null } })
    expect(live).toBe(0)
    expect(await mails(email, 'password was changed')).toHaveLength(1)
    expect((await login(email, PASSWORD)).statusCode).toBe(401)
    expect((await login(email, NEW_PASSWORD)).statusCode).toBe(200)
  })

  it('sends no referrer on refused resets and on the request either', async () => {
    const refused = await reset(randomBytes(32).toString('base64url'), NEW_PASSWORD, '192.0.2.44')
    expect(refused.statusCode).toBe(400)
    expect(refused.headers['referrer-policy']).toBe('no-referrer')
    const forgot = await post('/auth/password/forgot', { email: 'nobody@initech.test' })
    expect(forgot.headers['referrer-policy']).toBe('no-referrer')
  })

  it('a weak new password is refused without spending the token', async () => {
    const { email } = await newUser()
    const token = tokenOf(await requestReset(email))
    const weak = await reset(token, 'short')
    expect(weak.statusCode).toBe(400)
    expect(codeOf(weak)).toBe('ACME_AUTH_WEAK_PASSWORD')
    expect((await reset(token)).statusCode).toBe(200)
  })
})

describe('RST-05: token guessing, no early change', () => {
  it('answers 429 with Retry-After after 10 wrong tokens from one IP, in Redis', async () => {
    const ip = '198.51.100.7'
    const statuses: number[] = []
    let limited: LightMyRequestResponse | undefined
    for (let attempt = 0; attempt < 30; attempt++) {
      const response = await reset(randomBytes(32).toString('base64url'), NEW_PASSWORD, ip)
      statuses.push(response.statusCode)
      if (response.statusCode === 429) limited = response
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(400))
    expect(statuses.slice(10)).toEqual(Array(20).fill(429))
    expect(limited && codeOf(limited)).toBe('ACME_AUTH_TOO_MANY_ATTEMPTS')
    const retryAfter = Number(limited?.headers['retry-after'])
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(15 * MINUTE)

    // The count is shared through Redis, under the app's prefix.
    const redis = new Redis(TEST_REDIS_URL)
    try {
      const key = `${t.redisPrefix}auth:reset-guess:${ip}`
      expect(Number(await redis.get(key))).toBeGreaterThanOrEqual(10)
      expect(await redis.ttl(key)).toBeGreaterThan(0)
    } finally {
      await redis.quit()
    }

    // Even a valid token waits from that IP; another IP is not affected.
    const { email } = await newUser()
    const token = tokenOf(await requestReset(email))
    expect((await reset(token, NEW_PASSWORD, ip)).statusCode).toBe(429)
    expect((await reset(token, NEW_PASSWORD, '198.51.100.8')).statusCode).toBe(200)
  })

  it('successful resets and weak passwords do not count as guesses', async () => {
    const ip = '198.51.100.9'
    for (let attempt = 0; attempt < 9; attempt++) {
      expect(
        (await reset(randomBytes(32).toString('base64url'), NEW_PASSWORD, ip)).statusCode,
      ).toBe(400)
    }
    for (let round = 0; round < 3; round++) {
      const { email } = await newUser()
      const token = tokenOf(await requestReset(email))
      expect((await reset(token, 'short', ip)).statusCode).toBe(400)
      expect((await reset(token, NEW_PASSWORD, ip)).statusCode).toBe(200)
    }
    // The tenth wrong token is still evaluated; the eleventh is not.
    expect((await reset(randomBytes(32).toString('base64url'), NEW_PASSWORD, ip)).statusCode).toBe(
      400,
    )
    expect((await reset(randomBytes(32).toString('base64url'), NEW_PASSWORD, ip)).statusCode).toBe(
      429,
    )
  })

  it('without Redis, counts in memory by the injected clock and forgives after 15 minutes', async () => {
    // Helmet off too: the reset routes send no-referrer themselves, not only through helmet.
    const local = await createApp({ redis: false, core: { helmet: false } })
    try {
      const ip = '203.0.113.50'
      const guess = () =>
        local.app.inject({
          method: 'POST',
          url: '/auth/password/reset',
          remoteAddress: ip,
          payload: { token: randomBytes(32).toString('base64url'), password: NEW_PASSWORD },
        })
      for (let attempt = 0; attempt < 10; attempt++) expect((await guess()).statusCode).toBe(400)
      const limited = await guess()
      expect(limited.statusCode).toBe(429)
      expect(Number(limited.headers['retry-after'])).toBe(15 * MINUTE)
      expect(limited.headers['referrer-policy']).toBe('no-referrer')
      local.clock.advance(10 * MINUTE)
      expect(Number((await guess()).headers['retry-after'])).toBe(5 * MINUTE)
      local.clock.advance(5 * MINUTE)
      expect((await guess()).statusCode).toBe(400)
    } finally {
      await local.close()
    }
  })

  it('requesting a reset changes no credential and blocks no login', async () => {
    const { email, id } = await newUser()
    const session = (await login(email)).json()
    const before = await t.db.user.findUniqueOrThrow({ where: { id } })
    for (let request = 0; request < 3; request++) await requestReset(email)
    const after = await t.db.user.findUniqueOrThrow({ where: { id } })
    expect(after).toEqual(before)
    expect((await login(email)).statusCode).toBe(200)
    const me = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: bearer(session.accessToken),
    })
    expect(me.statusCode).toBe(200)
    expect((await post('/auth/refresh', { refreshToken: session.refreshToken })).statusCode).toBe(
      200,
    )
  })
})

describe('ENUM-02: forgot password does not reveal accounts', () => {
  it('answers a known and an unknown email alike and mails only the known one', async () => {
    const { email } = await newUser()
    const unknownEmail = `nobody-${randomBytes(3).toString('hex')}@initech.test`
    const hash = vi.spyOn(t.app.auth.passwords, 'hash')
    const verify = vi.spyOn(t.app.auth.passwords, 'verify')
    try {
      const unknown = await post('/auth/password/forgot', { email: unknownEmail })
      const known = await post('/auth/password/forgot', { email: email.toUpperCase() })
      expect(unknown.statusCode).toBe(202)
      expect(known.statusCode).toBe(202)
      expect(known.body).toBe(unknown.body)
      const headerNames = (headers: Record<string, unknown>) =>
        Object.keys(headers)
          .filter((name) => !['date', 'x-request-id', 'content-length'].includes(name))
          .sort()
      expect(headerNames(known.headers)).toEqual(headerNames(unknown.headers))
      // Neither path hashes anything: no work that only one of them does.
      expect(hash).not.toHaveBeenCalled()
      expect(verify).not.toHaveBeenCalled()
    } finally {
      hash.mockRestore()
      verify.mockRestore()
    }
    expect(await mails(email, 'Reset your')).toHaveLength(1)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(t.app.mailer.sent.filter((mail) => mail.to === unknownEmail)).toHaveLength(0)
  })

  it('refuses malformed input with a 400 problem and mails nothing', async () => {
    for (const payload of [{}, { email: 'not-an-email' }, { email: 'a@initech.test', x: 1 }]) {
      const response = await post('/auth/password/forgot', payload)
      expect(response.statusCode).toBe(400)
      expect(response.headers['content-type']).toContain('application/problem+json')
      expect(codeOf(response)).toBe('ACME_CORE_VALIDATION_FAILED')
    }
  })
})

describe('PWD-04: changing the password needs the current one', () => {
  it('403 without or with a wrong current password, and the hash stays', async () => {
    const { email, id } = await newUser()
    const { accessToken } = (await login(email)).json()
    const before = await passwordHash(id)
    for (const payload of [
      { newPassword: NEW_PASSWORD },
      { currentPassword: 'wrong password here', newPassword: NEW_PASSWORD },
      { currentPassword: '', newPassword: NEW_PASSWORD },
    ]) {
      const response = await post('/auth/password/change', payload, bearer(accessToken))
      expect(response.statusCode).toBe(403)
      expect(codeOf(response)).toBe('ACME_AUTH_CURRENT_PASSWORD_INVALID')
    }
    expect(await passwordHash(id)).toBe(before)
    expect((await login(email)).statusCode).toBe(200)
  })

  it('with the right one: 200, a mail, other sessions end, this one continues', async () => {
    const { email, id } = await newUser()
    const phone = (await login(email)).json()
    const laptop = (await login(email)).json()
    const pendingReset = tokenOf(await requestReset(email))
    const before = await passwordHash(id)

    const weak = await post(
      '/auth/password/change',
      { currentPassword: PASSWORD, newPassword: 'password1234' },
      bearer(laptop.accessToken),
    )
    expect(weak.statusCode).toBe(400)
    expect(codeOf(weak)).toBe('ACME_AUTH_WEAK_PASSWORD')
    expect(await passwordHash(id)).toBe(before)

    const changed = await post(
      '/auth/password/change',
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      bearer(laptop.accessToken),
    )
    expect(changed.statusCode).toBe(200)
    expect(Object.keys(changed.json())).toEqual(['message'])
    expect(await passwordHash(id)).not.toBe(before)
    expect(await mails(email, 'password was changed')).toHaveLength(1)

    const me = (accessToken: string) =>
      t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(accessToken) })
    expect((await me(phone.accessToken)).statusCode).toBe(401)
    expect((await post('/auth/refresh', { refreshToken: phone.refreshToken })).statusCode).toBe(401)
    expect((await me(laptop.accessToken)).statusCode).toBe(200)
    expect((await post('/auth/refresh', { refreshToken: laptop.refreshToken })).statusCode).toBe(
      200,
    )
    // A reset link from before the change cannot undo it.
    expect(codeOf(await reset(pendingReset, 'an attacker passphrase'))).toBe(
      'ACME_AUTH_INVALID_RESET_TOKEN',
    )
    expect((await login(email, PASSWORD)).statusCode).toBe(401)
    expect((await login(email, NEW_PASSWORD)).statusCode).toBe(200)
  })

  it('needs a signed-in user', async () => {
    const response = await post('/auth/password/change', {
      currentPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
    })
    expect(response.statusCode).toBe(401)
    expect(codeOf(response)).toBe('ACME_AUTH_UNAUTHENTICATED')
  })
})

describe('events', () => {
  it('reports the reset request and the change, with how it was changed', async () => {
    const seen: string[] = []
    const off = [
      t.app.events.on('user.password_reset_requested', (event) => {
        seen.push(`requested:${event.payload.userId}`)
      }),
      t.app.events.on('user.password_changed', (event) => {
        seen.push(`changed:${event.payload.via}:${event.payload.userId}`)
      }),
    ]
    try {
      const { email, id } = await newUser()
      await reset(tokenOf(await requestReset(email)))
      expect(seen).toEqual([`requested:${id}`, `changed:reset:${id}`])
    } finally {
      for (const unsubscribe of off) unsubscribe()
    }
  })
})
