import { createHash, randomBytes } from 'node:crypto'
import type { DomainEvent } from '@acme/core'
import { TEST_BRAND } from '@acme/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { type AuthTestApp, bearer, createAuthApp } from './support/app.js'

const PASSWORD = 'correct horse battery'
const REAUTH_SECONDS = 300
const VERIFY_TTL = 3_600
const ACCOUNT_MAX = 4

let t: AuthTestApp
let db: AuthDb
let users = 0
const changed: Array<DomainEvent<'user.email_changed'>> = []
const requested: Array<DomainEvent<'user.email_change_requested'>> = []

beforeAll(async () => {
  t = await createAuthApp(
    {
      reauthenticationSeconds: REAUTH_SECONDS,
      oneTimeTokens: { verifyTtlSeconds: VERIFY_TTL },
      // inject sends every request from one address: only the account limit is under test.
      throttle: { ipMax: 10_000, accountMax: ACCOUNT_MAX },
    },
    { label: 'auth_email_change', core: { rateLimit: { max: 10_000 } } },
  )
  db = t.app.prisma as unknown as AuthDb
  t.app.events.on('user.email_changed', (event) => {
    changed.push(event)
  })
  t.app.events.on('user.email_change_requested', (event) => {
    requested.push(event)
  })
})
afterAll(async () => {
  await t?.close()
})

interface Device {
  accessToken: string
  refreshToken: string
}

const unique = (name: string) => `${name}${++users}-${randomBytes(3).toString('hex')}@initech.test`

async function post(url: string, payload: object, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url, headers, payload })
}

async function signIn(email: string, userAgent = 'Laptop/1.0'): Promise<Device> {
  const response = await post(
    '/auth/login',
    { email, password: PASSWORD },
    { 'user-agent': userAgent },
  )
  expect(response.statusCode).toBe(200)
  return response.json()
}

/** A fresh account, signed in on a device. */
async function newUser(name = 'ec') {
  const email = unique(name)
  expect((await post('/auth/register', { email, password: PASSWORD })).statusCode).toBe(202)
  const row = await db.user.findUniqueOrThrow({ where: { email }, select: { id: true } })
  return { email, id: row.id, device: await signIn(email) }
}

function changeEmail(device: Device, payload: object, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: 'PATCH',
    url: '/auth/me/email',
    headers: { ...bearer(device.accessToken), ...headers },
    payload,
  })
}

function confirm(token: string, headers: Record<string, string> = {}) {
  return post('/auth/email/change/confirm', { token }, headers)
}

/** Mails are sent by jobs: wait until `to` has `count` with this subject (or give up). */
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

/** Every mail to these addresses, after letting queued jobs run. */
async function allMailsTo(...addresses: string[]) {
  await new Promise((resolve) => setTimeout(resolve, 150))
  return t.app.mailer.sent.filter((mail) => addresses.includes(mail.to))
}

async function confirmLink(to: string): Promise<URL> {
  const [mail] = (await mails(to, 'Confirm your new email')).slice(-1)
  const link = /https?:\/\/\S+/.exec(mail?.text ?? '')?.[0]
  expect(link).toBeDefined()
  return new URL(link ?? '')
}

const tokenOf = (link: URL) => link.searchParams.get('token') ?? ''
const codeOf = (response: { json(): { code?: string } }) => response.json().code
const pending = (userId: string) =>
  db.oneTimeToken.findMany({ where: { userId, purpose: 'email_change', usedAt: null } })

const me = (device: Device) =>
  t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(device.accessToken) })
const refresh = (device: Device) => post('/auth/refresh', { refreshToken: device.refreshToken })

describe('PATCH /auth/me/email (SES-03)', () => {
  it('with a recent login: 200, a link to the new address, a notice to the old one at once', async () => {
    const user = await newUser()
    const next = unique('new')
    const response = await changeEmail(user.device, { email: `  ${next.toUpperCase()} ` })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'confirmation_sent' })

    const link = await confirmLink(next)
    expect(link.origin + link.pathname).toBe(`${TEST_BRAND.baseUrl}/confirm-email-change`)
    const token = tokenOf(link)
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const [notice] = await mails(user.email, 'sign-in email was requested')
    expect(notice?.text).toContain(`to ${next[0]}***@initech.test was requested`)
    expect(notice?.text).toContain(`${TEST_BRAND.baseUrl}/reset-password`)
    expect(notice?.text).not.toContain(next)
    expect(requested.map((event) => event.payload.userId)).toContain(user.id)

    // The token at rest: its SHA-256 only, the normalised address, the verification lifetime.
    const [row] = await pending(user.id)
    expect(row).toMatchObject({
      payload: next,
      tokenHash: createHash('sha256').update(token).digest('hex'),
    })
    expect((row?.expiresAt.getTime() ?? 0) - (row?.createdAt.getTime() ?? 0)).toBe(
      VERIFY_TTL * 1_000,
    )
    // Nothing changed yet.
    expect((await me(user.device)).json().email).toBe(user.email)
  })

  it('without a password after the window: 403, no token, no mail', async () => {
    const user = await newUser()
    const next = unique('late')
    t.clock.advance(REAUTH_SECONDS + 1)
    const response = await changeEmail(user.device, { email: next })
    expect(response.statusCode).toBe(403)
    expect(response.headers['content-type']).toContain('application/problem+json')
    expect(codeOf(response)).toBe('ACME_AUTH_REAUTHENTICATION_REQUIRED')
    expect(await pending(user.id)).toHaveLength(0)
    expect(await allMailsTo(next)).toHaveLength(0)
    expect(
      (await allMailsTo(user.email)).filter((mail) => mail.subject.includes('requested')),
    ).toHaveLength(0)

    // The right password is the proof instead.
    const proven = await changeEmail(user.device, { email: next, password: PASSWORD })
    expect(proven.statusCode).toBe(200)
    expect(await pending(user.id)).toHaveLength(1)
    expect(await mails(next, 'Confirm your new email')).toHaveLength(1)
  })

  it('a wrong password is 403 even within the window, and counts against the login throttle', async () => {
    const user = await newUser()
    const next = unique('guess')
    for (let attempt = 0; attempt < ACCOUNT_MAX; attempt++) {
      const wrong = await changeEmail(user.device, { email: next, password: 'not my password!' })
      expect(wrong.statusCode).toBe(403)
      expect(codeOf(wrong)).toBe('ACME_AUTH_CURRENT_PASSWORD_INVALID')
    }
    const throttled = await changeEmail(user.device, { email: next, password: PASSWORD })
    expect(throttled.statusCode).toBe(429)
    expect(throttled.headers['retry-after']).toBeDefined()
    // The account's login is throttled too: same counters.
    expect((await post('/auth/login', { email: user.email, password: PASSWORD })).statusCode).toBe(
      429,
    )
    expect(await pending(user.id)).toHaveLength(0)
    expect(await allMailsTo(next)).toHaveLength(0)
    t.clock.advance(900)
  })

  it('answers the same for an address that has an account: no token, a notice there instead', async () => {
    const user = await newUser()
    const other = await newUser('taken')
    const free = await changeEmail(user.device, { email: unique('free') })
    const taken = await changeEmail(user.device, { email: other.email.toUpperCase() })
    expect(taken.statusCode).toBe(free.statusCode)
    expect(taken.body).toBe(free.body)
    // The taken request also dropped the link of the first one.
    expect(await pending(user.id)).toHaveLength(0)
    const toOther = await mails(other.email, 'Your Initech account')
    expect(toOther).toHaveLength(1)
    expect(toOther[0]?.text).toContain('already belongs to yours')
    const toOtherAll = await allMailsTo(other.email)
    expect(toOtherAll.some((mail) => mail.subject.includes('Confirm your new email'))).toBe(false)
    // The owner still hears of the attempt at their own address.
    expect(await mails(user.email, 'sign-in email was requested', 2)).toHaveLength(2)
    expect((await db.user.findUniqueOrThrow({ where: { id: other.id } })).email).toBe(other.email)
  })

  it('limits one user to five requests an hour: the sixth is 429 and mails no one', async () => {
    const user = await newUser('ecflood')
    const targets = Array.from({ length: 6 }, (_, i) => unique(`target${i}`))
    const statuses: number[] = []
    for (const target of targets) {
      statuses.push((await changeEmail(user.device, { email: target })).statusCode)
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429])
    expect(await allMailsTo(targets.at(-1) ?? '')).toEqual([])
    // Another user is not affected.
    const other = await newUser('ecother')
    expect((await changeEmail(other.device, { email: unique('fresh') })).statusCode).toBe(200)
  })

  it('refuses API keys, the current address and malformed bodies', async () => {
    const user = await newUser()
    const created = await t.app.inject({
      method: 'POST',
      url: '/auth/api-keys',
      headers: bearer(user.device.accessToken),
      payload: { name: 'ci' },
    })
    const key: string = created.json().key
    const viaKey = await t.app.inject({
      method: 'PATCH',
      url: '/auth/me/email',
      headers: { 'x-api-key': key },
      payload: { email: unique('key'), password: PASSWORD },
    })
    expect(viaKey.statusCode).toBe(403)
    expect(codeOf(viaKey)).toBe('ACME_AUTH_API_KEY_NOT_ALLOWED')

    const same = await changeEmail(user.device, { email: user.email.toUpperCase() })
    expect(same.statusCode).toBe(400)
    expect(codeOf(same)).toBe('ACME_AUTH_EMAIL_UNCHANGED')

    for (const payload of [
      { email: 'not-an-email' },
      { email: unique('x'), emailVerified: true },
      { email: unique('x'), password: '' },
      {},
    ]) {
      const response = await changeEmail(user.device, payload)
      expect(response.statusCode).toBe(400)
      expect(codeOf(response)).toBe('ACME_CORE_VALIDATION_FAILED')
    }
    const anonymous = await t.app.inject({
      method: 'PATCH',
      url: '/auth/me/email',
      payload: { email: unique('anon') },
    })
    expect(anonymous.statusCode).toBe(401)
    expect(await pending(user.id)).toHaveLength(0)
  })
})

describe('POST /auth/email/change/confirm', () => {
  it('changes and verifies the address, ends the other sessions, tells the old address', async () => {
    const user = await newUser()
    const phone = await signIn(user.email, 'Phone/1.0')
    await db.user.update({ where: { id: user.id }, data: { emailVerifiedAt: null } })
    const next = unique('moved')
    expect((await changeEmail(user.device, { email: next })).statusCode).toBe(200)
    const token = tokenOf(await confirmLink(next))

    // Confirmed from the signed-in laptop: that session stays, the phone's ends.
    const response = await confirm(token, bearer(user.device.accessToken))
    expect(response.statusCode).toBe(200)
    expect(response.headers['referrer-policy']).toBe('no-referrer')
    const row = await db.user.findUniqueOrThrow({ where: { id: user.id } })
    expect(row.email).toBe(next)
    expect(row.emailVerifiedAt).toEqual(t.clock.now)
    expect((await me(user.device)).statusCode).toBe(200)
    expect((await me(phone)).statusCode).toBe(401)
    expect((await refresh(phone)).statusCode).toBe(401)
    expect(changed.map((event) => event.payload.userId)).toContain(user.id)

    const [notice] = await mails(user.email, 'sign-in email was changed')
    expect(notice?.text).toContain(`changed to ${next[0]}***@initech.test`)
    // The old address no longer signs in; the new one does.
    expect((await post('/auth/login', { email: user.email, password: PASSWORD })).statusCode).toBe(
      401,
    )
    expect((await post('/auth/login', { email: next, password: PASSWORD })).statusCode).toBe(200)

    // Single use.
    const again = await confirm(token)
    expect(again.statusCode).toBe(400)
    expect(codeOf(again)).toBe('ACME_AUTH_INVALID_EMAIL_CHANGE_TOKEN')
  })

  it('ends every session when confirmed signed out', async () => {
    const user = await newUser()
    const next = unique('out')
    await changeEmail(user.device, { email: next })
    expect((await confirm(tokenOf(await confirmLink(next)))).statusCode).toBe(200)
    expect((await me(user.device)).statusCode).toBe(401)
    expect((await refresh(user.device)).statusCode).toBe(401)
  })

  it('refuses an expired, unknown or superseded token, and changes nothing', async () => {
    const user = await newUser()
    const first = unique('first')
    await changeEmail(user.device, { email: first })
    const firstToken = tokenOf(await confirmLink(first))
    const second = unique('second')
    await changeEmail(user.device, { email: second })
    const secondToken = tokenOf(await confirmLink(second))

    const superseded = await confirm(firstToken)
    expect(superseded.statusCode).toBe(400)
    expect(codeOf(superseded)).toBe('ACME_AUTH_INVALID_EMAIL_CHANGE_TOKEN')
    for (const token of ['x'.repeat(43), 'short']) {
      expect(codeOf(await confirm(token))).toBe('ACME_AUTH_INVALID_EMAIL_CHANGE_TOKEN')
    }
    t.clock.advance(VERIFY_TTL + 1)
    const expired = await confirm(secondToken)
    expect(expired.statusCode).toBe(400)
    expect(codeOf(expired)).toBe('ACME_AUTH_INVALID_EMAIL_CHANGE_TOKEN')
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).email).toBe(user.email)
  })

  it('refuses an address that got an account meanwhile, with the same generic 400', async () => {
    const user = await newUser()
    const next = unique('race')
    await changeEmail(user.device, { email: next })
    const token = tokenOf(await confirmLink(next))
    expect((await post('/auth/register', { email: next, password: PASSWORD })).statusCode).toBe(202)

    const response = await confirm(token)
    expect(response.statusCode).toBe(400)
    expect(codeOf(response)).toBe('ACME_AUTH_INVALID_EMAIL_CHANGE_TOKEN')
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).email).toBe(user.email)
    expect((await me(user.device)).statusCode).toBe(200)
  })

  it('a password reset drops a pending change (whoever asked knew the old password)', async () => {
    const user = await newUser()
    const next = unique('hijack')
    await changeEmail(user.device, { email: next })
    const token = tokenOf(await confirmLink(next))
    expect((await post('/auth/password/forgot', { email: user.email })).statusCode).toBe(202)
    const [resetMail] = await mails(user.email, 'Reset your')
    const resetToken = new URL(/https?:\/\/\S+/.exec(resetMail?.text ?? '')?.[0] ?? '')
    const reset = await post('/auth/password/reset', {
      token: tokenOf(resetToken),
      password: 'an entirely new passphrase',
    })
    expect(reset.statusCode).toBe(200)
    expect(codeOf(await confirm(token))).toBe('ACME_AUTH_INVALID_EMAIL_CHANGE_TOKEN')
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).email).toBe(user.email)
  })
})
