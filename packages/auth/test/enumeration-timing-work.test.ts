// ENUM-02's deterministic half: POST /register and POST /password/forgot do the same work before
// they answer, whether or not the email has an account, so their response time cannot tell.
// What differs (creating the account's mails, issuing a reset token) happens in a job afterwards.
// The statistical half (medians within 10%) is bench/src/login-timing.ts.
import { randomBytes } from 'node:crypto'
import { getRequestContext } from '@acme/core'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { type AuthTestApp, createAuthApp, login, register } from './support/app.js'

let t: AuthTestApp

beforeAll(async () => {
  t = await createAuthApp({}, { label: 'auth_enum_work', core: { rateLimit: false } })
})
afterAll(async () => {
  await t?.close()
})

const unique = (label: string) => `${label}-${randomBytes(4).toString('hex')}@initech.test`

/** Mails are sent by jobs: wait until `to` has `count` mails (or give up after 5 s). */
async function mailsTo(to: string, count: number) {
  const deadline = Date.now() + 5_000
  for (;;) {
    const found = t.app.mailer.sent.filter((mail) => mail.to === to)
    if (found.length >= count || Date.now() > deadline) return found
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * The observable work a request does before its answer: password hashing, mails, events and
 * jobs, in order. Recorded only while the request runs, and only in its own async context (not
 * in jobs that other requests queued).
 */
async function workOf(
  request: (headers: Record<string, string>) => Promise<LightMyRequestResponse>,
): Promise<{ response: LightMyRequestResponse; work: string[] }> {
  const work: string[] = []
  const requestId = `work-${randomBytes(6).toString('hex')}`
  const { passwords } = t.app.auth
  const watch = <T extends object>(
    target: T,
    method: keyof T & string,
    label: (args: unknown[]) => string,
  ) => {
    const original = (target[method] as (...args: unknown[]) => unknown).bind(target)
    return vi.spyOn(target, method as never).mockImplementation(((...args: unknown[]) => {
      if (getRequestContext()?.requestId === requestId) work.push(label(args))
      return original(...args)
    }) as never) as MockInstance
  }
  const spies = [
    watch(passwords, 'hash', () => 'hash'),
    watch(passwords, 'verify', () => 'verify'),
    watch(t.app.mailer, 'sendTemplate', (args) => `mail:${String(args[0])}`),
    watch(t.app.mailer, 'send', () => 'mail'),
    watch(t.app.events, 'emit', (args) => `event:${String(args[0])}`),
    watch(t.app.jobs, 'enqueue', (args) => `job:${String(args[0])}`),
  ]
  try {
    const response = await request({ 'x-request-id': requestId })
    expect(response.headers['x-request-id']).toBe(requestId)
    return { response, work: [...work] }
  } finally {
    for (const spy of spies) spy.mockRestore()
  }
}

const post = (url: string, payload: object) => (headers: Record<string, string>) =>
  t.app.inject({ method: 'POST', url, payload, headers })

describe('ENUM-02: POST /auth/register does the same work for a new and an existing email', () => {
  const existing = unique('owner')

  beforeAll(async () => {
    expect((await register(t, existing)).statusCode).toBe(202)
    // Its own mails first, so that no job of this registration runs during the ones measured.
    await mailsTo(existing, 2)
  })

  it('the same calls before the answer: one hash, one job; no mail, no event', async () => {
    const fresh = unique('fresh')
    const forNew = await workOf(
      post('/auth/register', { email: fresh, password: 'correct horse battery' }),
    )
    // Its jobs done before the next request, so that they cannot overlap.
    const freshMails = await mailsTo(fresh, 2)
    const forExisting = await workOf(
      post('/auth/register', {
        email: existing.toUpperCase(),
        password: 'another long passphrase',
      }),
    )
    expect(forNew.response.statusCode).toBe(202)
    expect(forExisting.response.statusCode).toBe(202)
    expect(forExisting.response.body).toBe(forNew.response.body)
    expect(forExisting.work).toEqual(forNew.work)
    expect(forNew.work.filter((call) => call === 'hash')).toHaveLength(1)
    expect(forNew.work.filter((call) => call.startsWith('job:'))).toHaveLength(1)
    expect(forNew.work.some((call) => call.startsWith('mail') || call.startsWith('event:'))).toBe(
      false,
    )

    // Afterwards, the job: the new address gets its welcome and verification mails; the owner of
    // the existing one is told, and no second account appears.
    expect(freshMails.map((mail) => mail.subject).sort()).toEqual([
      'Confirm your email address for Initech',
      'Welcome to Initech',
    ])
    const ownerMails = await mailsTo(existing, 3)
    expect(ownerMails.map((mail) => mail.subject)).toContain('Your Initech account')
    const db = t.app.prisma as unknown as AuthDb
    expect(await db.user.count({ where: { email: existing } })).toBe(1)
    // The existing account keeps its password; the new one can sign in at once.
    expect((await login(t, existing, 'another long passphrase')).statusCode).toBe(401)
    expect((await login(t, fresh)).statusCode).toBe(200)
  })

  it('a registration the job reports as new emits user.registered with the request id', async () => {
    const seen: Array<{ userId: string; requestId: string | null }> = []
    const off = t.app.events.on('user.registered', (event) => {
      seen.push({ userId: event.payload.userId, requestId: event.requestId })
    })
    try {
      const email = unique('event')
      const response = await register(t, email)
      await mailsTo(email, 2)
      const id = (await login(t, email)).json().user.id
      expect(seen).toEqual([{ userId: id, requestId: response.headers['x-request-id'] }])
    } finally {
      off()
    }
  })
})

describe('ENUM-02: POST /auth/password/forgot does the same work for a known and an unknown email', () => {
  it('the same calls before the answer: one job; no hash, no mail, no event', async () => {
    const known = unique('known')
    expect((await register(t, known)).statusCode).toBe(202)
    await mailsTo(known, 2)
    const unknown = unique('unknown')

    const forKnown = await workOf(post('/auth/password/forgot', { email: known.toUpperCase() }))
    const forUnknown = await workOf(post('/auth/password/forgot', { email: unknown }))
    expect(forKnown.response.statusCode).toBe(202)
    expect(forUnknown.response.statusCode).toBe(202)
    expect(forUnknown.response.body).toBe(forKnown.response.body)
    expect(forUnknown.work).toEqual(forKnown.work)
    expect(forKnown.work).toHaveLength(1)
    expect(forKnown.work[0]).toMatch(/^job:/)

    // Afterwards, only the known account gets a reset link.
    const reset = await mailsTo(known, 3)
    expect(reset.map((mail) => mail.subject)).toContain(`Reset your Initech password`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(t.app.mailer.sent.filter((mail) => mail.to === unknown)).toHaveLength(0)
  })
})
