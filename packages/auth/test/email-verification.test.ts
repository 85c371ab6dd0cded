import { createHash, randomBytes } from 'node:crypto'
import { createTestApp, TEST_BRAND, type TestApp } from '@acme/test-support'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { PrismaClient } from '../src/generated/prisma/client.js'
import acmeAuth from '../src/index.js'
import { sendVerificationEmail } from '../src/routes/email.js'
import { bearer, migrationsDir } from './support/app.js'
import { testClock } from './support/clock.js'

const PASSWORD = 'correct horse battery'
const DAY = 24 * 60 * 60

const clock = testClock()
const now = () => clock.now
const links = {
  passwordReset: `${TEST_BRAND.baseUrl}/reset-password`,
  verifyEmail: `${TEST_BRAND.baseUrl}/verify-email`,
}
const oneTimeTokens = { resetTtlSeconds: 1_800, verifyTtlSeconds: DAY }

let t: TestApp
let db: AuthDb
let users = 0

/** Core and auth, on a database and Redis prefix of this file's own. */
beforeAll(async () => {
  t = await createTestApp({
    label: 'auth_email',
    migrationsDir,
    PrismaClient,
    setup: async (instance) => {
      await instance.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' }, clock: now })
    },
  })
  db = t.app.prisma as unknown as AuthDb
})
afterAll(async () => {
  await t?.close()
})

async function post(url: string, payload?: object, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) })
}

/** A fresh account, signed in. */
async function signedInUser() {
  users += 1
  const email = `ev${users}-${randomBytes(3).toString('hex')}@initech.test`
  expect((await post('/auth/register', { email, password: PASSWORD })).statusCode).toBe(202)
  // Registration mails its link from a job, after answering: let it land first, so that a
  // resend in the test is the newest link rather than racing it.
  expect(await verificationMails(email)).toHaveLength(1)
  const login = await post('/auth/login', { email, password: PASSWORD })
  expect(login.statusCode).toBe(200)
  const { accessToken, user } = login.json()
  return { email, id: user.id as string, headers: bearer(accessToken) }
}

/** Sending is a job: wait until `count` mails with this subject reached `to`. */
async function mails(to: string, subject: string, count = 1) {
  const deadline = Date.now() + 5_000
  for (;;) {
    const found = t.app.mailer.sent.filter(
      (mail) => mail.to === to && mail.subject.startsWith(subject),
    )
    if (found.length >= count || Date.now() > deadline) return found
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const verificationMails = (to: string, count = 1) => mails(to, 'Confirm your email', count)
const linkIn = (text = '') => new URL(/https?:\/\/\S+/.exec(text)?.[0] ?? 'about:blank')

/** Asks for a new link and returns it from the newest verification mail. */
async function resend(user: { email: string; headers: Record<string, string> }): Promise<URL> {
  const before = (await verificationMails(user.email, 0)).length
  const response = await post('/auth/email/resend', undefined, user.headers)
  expect(response.statusCode).toBe(202)
  const found = await verificationMails(user.email, before + 1)
  expect(found).toHaveLength(before + 1)
  return linkIn(found.at(-1)?.text)
}

const tokenOf = (link: URL) => link.searchParams.get('token') ?? ''
const verify = (token: unknown) => post('/auth/email/verify', { token })
const codeOf = (response: LightMyRequestResponse) => response.json().code

async function emailVerified(headers: Record<string, string>): Promise<boolean> {
  const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers })
  expect(me.statusCode).toBe(200)
  return me.json().emailVerified
}

describe('POST /auth/email/resend and /auth/email/verify', () => {
  it('mails a link that confirms the address once', async () => {
    const user = await signedInUser()
    const seen: string[] = []
    const off = t.app.events.on('user.email_verified', (event) => {
      seen.push(event.payload.userId)
    })
    try {
      const link = await resend(user)
      expect(link.origin).toBe(TEST_BRAND.baseUrl)
      expect(link.pathname).toBe('/verify-email')
      const token = tokenOf(link)
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      // The newest: registration may have sent one too, which the resend superseded.
      const mail = (await verificationMails(user.email)).at(-1)
      expect(mail?.text).toContain('expires in 24 hours')
      expect(mail?.html).toContain(`href="${TEST_BRAND.baseUrl}/verify-email?token=${token}"`)

      expect(await emailVerified(user.headers)).toBe(false)
      const confirmed = await verify(token)
      expect(confirmed.statusCode).toBe(200)
      expect(Object.keys(confirmed.json())).toEqual(['message'])
      expect(confirmed.headers['referrer-policy']).toBe('no-referrer')
      expect(await emailVerified(user.headers)).toBe(true)
      expect(seen).toEqual([user.id])

      const reuse = await verify(token)
      expect(reuse.statusCode).toBe(400)
      expect(codeOf(reuse)).toBe('ACME_AUTH_INVALID_VERIFICATION_TOKEN')
      expect(seen).toEqual([user.id])
    } finally {
      off()
    }
  })

  it('stores only the SHA-256 of the token', async () => {
    const user = await signedInUser()
    const token = tokenOf(await resend(user))
    const rows = await db.oneTimeToken.findMany({
      where: { userId: user.id, purpose: 'email_verify', usedAt: null },
    })
    expect(rows).toHaveLength(1)
    expect(rows[0]?.tokenHash).toBe(createHash('sha256').update(token).digest('hex'))
    for (const value of Object.values(rows[0] ?? {})) expect(String(value)).not.toContain(token)
  })

  it('a new link replaces the previous one', async () => {
    const user = await signedInUser()
    const first = tokenOf(await resend(user))
    const second = tokenOf(await resend(user))
    expect(codeOf(await verify(first))).toBe('ACME_AUTH_INVALID_VERIFICATION_TOKEN')
    expect(await emailVerified(user.headers)).toBe(false)
    expect((await verify(second)).statusCode).toBe(200)
  })

  it('a link expires after 24 hours', async () => {
    const user = await signedInUser()
    const token = tokenOf(await resend(user))
    clock.advance(DAY + 1)
    const late = await verify(token)
    expect(late.statusCode).toBe(400)
    expect(codeOf(late)).toBe('ACME_AUTH_INVALID_VERIFICATION_TOKEN')
    const row = await db.user.findUniqueOrThrow({
      where: { id: user.id },
      select: { emailVerifiedAt: true },
    })
    expect(row.emailVerifiedAt).toBeNull()
  })

  it('a confirmed address gets no new mail, and still answers 202', async () => {
    const user = await signedInUser()
    expect((await verify(tokenOf(await resend(user)))).statusCode).toBe(200)
    const before = (await verificationMails(user.email)).length
    const again = await post('/auth/email/resend', undefined, user.headers)
    expect(again.statusCode).toBe(202)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await verificationMails(user.email, 0)).toHaveLength(before)
  })

  it('resend needs a signed-in user', async () => {
    const response = await post('/auth/email/resend')
    expect(response.statusCode).toBe(401)
    expect(codeOf(response)).toBe('ACME_AUTH_UNAUTHENTICATED')
  })

  it('refuses bad input with a 400 problem and changes nothing', async () => {
    const user = await signedInUser()
    const token = tokenOf(await resend(user))
    for (const payload of [{}, { token: 123 }, { token: '' }, { token, emailVerified: true }]) {
      const response = await post('/auth/email/verify', payload)
      expect(response.statusCode).toBe(400)
      expect(response.headers['content-type']).toContain('application/problem+json')
      expect(codeOf(response)).toBe('ACME_CORE_VALIDATION_FAILED')
    }
    for (const wrong of [randomBytes(32).toString('base64url'), 'not a token', `${token}x`]) {
      const response = await verify(wrong)
      expect(response.statusCode).toBe(400)
      expect(response.headers['content-type']).toContain('application/problem+json')
      expect(codeOf(response)).toBe('ACME_AUTH_INVALID_VERIFICATION_TOKEN')
    }
    // A reset token is not a verification token.
    expect((await post('/auth/password/forgot', { email: user.email })).statusCode).toBe(202)
    const [resetMail] = await mails(user.email, 'Reset your')
    const resetToken = tokenOf(linkIn(resetMail?.text))
    expect(resetToken).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(codeOf(await verify(resetToken))).toBe('ACME_AUTH_INVALID_VERIFICATION_TOKEN')
    expect(await emailVerified(user.headers)).toBe(false)
    // The real link was left untouched by all of that.
    expect((await verify(token)).statusCode).toBe(200)
  })
})

describe('sendVerificationEmail', () => {
  it('is what registration calls for a new account: a working link to its address', async () => {
    const user = await signedInUser()
    const before = (await verificationMails(user.email, 0)).length
    await sendVerificationEmail(
      t.app,
      db,
      { id: user.id, email: user.email },
      {
        links,
        clock: now,
        oneTimeTokens,
      },
    )
    const found = await verificationMails(user.email, before + 1)
    expect((await verify(tokenOf(linkIn(found.at(-1)?.text)))).statusCode).toBe(200)
    expect(await emailVerified(user.headers)).toBe(true)
  })
})
