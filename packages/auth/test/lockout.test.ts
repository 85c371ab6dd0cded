// Targeted lockout: failures lock an account only for the client address that made them, so a
// stranger cannot keep someone else's account locked. The account-wide ceiling against
// distributed guessing slows addresses that have not failed down; it never refuses them.
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthOptions } from '../src/index.js'
import { type AuthTestApp, createAuthApp, register } from './support/app.js'

const PASSWORD = 'correct horse battery'
const WRONG = 'wrong password here'

interface Audit {
  failed: number
  throttled: string[]
}

async function lockoutApp(throttle: AuthOptions['throttle'] = {}) {
  const audit: Audit = { failed: 0, throttled: [] }
  const t = await createAuthApp(
    { throttle },
    {
      label: 'auth_lockout',
      // Core's per-client rate limit counts in real time and would answer before the login route.
      core: { rateLimit: false },
      routes: (app) => {
        app.events.on('user.login_failed', () => {
          audit.failed += 1
        })
        app.events.on('auth.login_throttled', (event) => {
          audit.throttled.push(event.payload.scope)
        })
      },
    },
  )
  return Object.assign(t, { audit })
}

function login(
  t: AuthTestApp,
  email: string,
  password: string,
  ip: string,
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
    remoteAddress: ip,
  })
}

/** The login's status and how long the server took to answer it (real time). */
async function timedLogin(t: AuthTestApp, email: string, password: string, ip: string) {
  const started = performance.now()
  const response = await login(t, email, password, ip)
  return { status: response.statusCode, ms: performance.now() - started, response }
}

describe('failures lock the account for the address that made them, not for everyone', () => {
  let t: AuthTestApp & { audit: Audit }

  beforeAll(async () => {
    t = await lockoutApp()
    for (const email of ['target@initech.test', 'rotated@initech.test', 'owner@initech.test']) {
      expect((await register(t, email)).statusCode).toBe(202)
    }
  })
  afterAll(async () => {
    await t?.close()
  })

  it('ten wrong passwords from a stranger do not lock the owner out from their own address', async () => {
    const stranger = '203.0.113.7'
    for (let attempt = 0; attempt < 10; attempt++) {
      expect((await login(t, 'target@initech.test', WRONG, stranger)).statusCode).toBe(401)
    }
    // The stranger's address is throttled on this account, even with the right password.
    const refused = await login(t, 'target@initech.test', PASSWORD, stranger)
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('900')
    expect(refused.json().code).toBe('ACME_AUTH_TOO_MANY_ATTEMPTS')

    const owner = await login(t, 'target@initech.test', PASSWORD, '198.51.100.20')
    expect(owner.statusCode).toBe(200)
    // The owner's success does not forgive the stranger's failures.
    expect((await login(t, 'target@initech.test', PASSWORD, stranger)).statusCode).toBe(429)
    t.clock.advance(900)
    expect((await login(t, 'target@initech.test', PASSWORD, stranger)).statusCode).toBe(200)
  })

  it('an attacker rotating addresses cannot keep the account locked', async () => {
    // 50 failures from 5 addresses: each address locks itself out, the owner is untouched.
    for (let address = 0; address < 5; address++) {
      for (let attempt = 0; attempt < 10; attempt++) {
        const ip = `203.0.113.${20 + address}`
        expect((await login(t, 'rotated@initech.test', WRONG, ip)).statusCode).toBe(401)
      }
      expect(
        (await login(t, 'rotated@initech.test', WRONG, `203.0.113.${20 + address}`)).statusCode,
      ).toBe(429)
    }
    const owner = await login(t, 'rotated@initech.test', PASSWORD, '198.51.100.21')
    expect(owner.statusCode).toBe(200)
  })

  it("the owner's own typos throttle the owner's address, which lifts after 15 minutes", async () => {
    const home = '198.51.100.22'
    for (let attempt = 0; attempt < 10; attempt++) {
      expect((await login(t, 'owner@initech.test', WRONG, home)).statusCode).toBe(401)
    }
    const refused = await login(t, 'owner@initech.test', PASSWORD, home)
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('900')
    // Another of the owner's devices, on another network, still signs in.
    expect((await login(t, 'owner@initech.test', PASSWORD, '198.51.100.23')).statusCode).toBe(200)
    t.clock.advance(900)
    expect((await login(t, 'owner@initech.test', PASSWORD, home)).statusCode).toBe(200)
  })
})

describe('the account-wide ceiling against distributed guessing', () => {
  let t: AuthTestApp & { audit: Audit }
  const email = 'ceiling@initech.test'
  // A low ceiling and short delays keep the test quick; the defaults are 100 per hour, 1 s to 10 s.
  const limits = { accountHourlyCap: 30, ceilingDelayMs: 150, ceilingMaxDelayMs: 600 }

  beforeAll(async () => {
    t = await lockoutApp(limits)
    expect((await register(t, email)).statusCode).toBe(202)
  })
  afterAll(async () => {
    await t?.close()
  })

  it('refuses addresses that failed, and answers the others after a growing delay, never 429', async () => {
    // 30 failures from 15 addresses, 2 each: no address reaches its own lockout.
    for (let address = 0; address < 15; address++) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const response = await login(t, email, WRONG, `203.0.113.${100 + address}`)
        expect(response.statusCode).toBe(401)
      }
    }
    expect(t.audit.failed).toBe(30)

    // The ceiling is full: an address that took part is refused until the hour frees a slot...
    const guesser = await login(t, email, PASSWORD, '203.0.113.100')
    expect(guesser.statusCode).toBe(429)
    expect(Number(guesser.headers['retry-after'])).toBe(3_600)

    // ...an address that has not failed is evaluated, after a delay that doubles up to the cap.
    const first = await timedLogin(t, email, WRONG, '192.0.2.201')
    expect(first.status).toBe(401)
    expect(first.ms).toBeGreaterThanOrEqual(limits.ceilingDelayMs - 5)
    const second = await timedLogin(t, email, WRONG, '192.0.2.202')
    expect(second.status).toBe(401)
    expect(second.ms).toBeGreaterThanOrEqual(2 * limits.ceilingDelayMs - 5)
    // Each address gets one such guess: having failed, it is refused like the others.
    expect((await login(t, email, WRONG, '192.0.2.201')).statusCode).toBe(429)

    const owner = await timedLogin(t, email, PASSWORD, '198.51.100.30')
    expect(owner.status).toBe(200)
    expect(owner.ms).toBeGreaterThanOrEqual(limits.ceilingMaxDelayMs - 5)
    expect(t.audit.failed).toBe(32)
    expect(new Set(t.audit.throttled)).toEqual(new Set(['account']))

    // An hour later the ledger is empty again: no delay, and the guessers' addresses are free.
    t.clock.advance(3_600)
    expect((await login(t, email, PASSWORD, '203.0.113.100')).statusCode).toBe(200)
  })

  it('parallel attempts from one new address get one evaluation between them', async () => {
    for (let address = 0; address < 15; address++) {
      for (let attempt = 0; attempt < 2; attempt++) {
        await login(t, email, WRONG, `203.0.113.${150 + address}`)
      }
    }
    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => login(t, email, WRONG, '192.0.2.250')),
    )
    const codes = statuses.map((response) => response.statusCode).sort()
    expect(codes).toEqual([401, 429, 429, 429, 429])
  })
})
