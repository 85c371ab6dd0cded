import { createHash, randomBytes } from 'node:crypto'
import type { TestApp } from '@acme/test-support'
import * as OTPAuth from 'otpauth'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { SecretBox } from '../src/services/secret-box.js'
import { bearer, createAuthApp, login, register } from './support/app.js'
import { testClock } from './support/clock.js'

const PASSWORD = 'correct horse battery'
const clock = testClock()
let t: TestApp
let db: AuthDb

beforeAll(async () => {
  t = await createAuthApp(
    {
      mfa: { encryptionKey: randomBytes(32).toString('base64'), mfaTokenTtlSeconds: 300 },
      // Every request here comes from one address.
      throttle: { ipMax: 10_000 },
    },
    // Core's per-IP limit (100 a minute) is not under test, and inject has one address.
    { label: 'mfa', clock, core: { rateLimit: { max: 10_000 } } },
  )
  db = t.app.prisma as unknown as AuthDb
})
afterAll(async () => {
  await t?.close()
})

const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: `/auth${url}`, payload, headers })

/** The independent implementation: what an authenticator app would show at `at`. */
function codeAt(secret: string, at: Date): string {
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  })
  return totp.generate({ timestamp: at.getTime() })
}
const secondsFromNow = (seconds: number) => new Date(clock.now.getTime() + seconds * 1_000)

/** Registers, logs in and enables MFA; the clock then moves to the next step. */
async function userWithMfa(email: string) {
  await register(t, email)
  const { accessToken } = (await login(t, email)).json()
  const setup = await post('/mfa/totp/setup', {}, bearer(accessToken))
  expect(setup.statusCode).toBe(200)
  const { secret } = setup.json()
  const enabled = await post(
    '/mfa/totp/enable',
    { code: codeAt(secret, clock.now) },
    bearer(accessToken),
  )
  expect(enabled.statusCode).toBe(200)
  // The enabling code is spent; the next login needs the next step.
  clock.advance(30)
  const user = await db.user.findUniqueOrThrow({ where: { email }, select: { id: true } })
  return {
    secret,
    accessToken,
    userId: user.id,
    recoveryCodes: enabled.json().recoveryCodes as string[],
  }
}

async function mfaToken(email: string): Promise<string> {
  const response = await login(t, email)
  expect(response.statusCode).toBe(200)
  return response.json().mfaToken
}

describe('TOTP enrolment', () => {
  it('setup → enable answers recovery codes once; only ciphertext and hashes are stored', async () => {
    await register(t, 'ann@initech.test')
    const { accessToken } = (await login(t, 'ann@initech.test')).json()
    const setup = await post('/mfa/totp/setup', {}, bearer(accessToken))
    expect(setup.statusCode).toBe(200)
    const { secret, otpauthUrl } = setup.json()
    expect(secret).toMatch(/^[A-Z2-7]{32}$/)
    const uri = OTPAuth.URI.parse(otpauthUrl)
    expect(uri).toBeInstanceOf(OTPAuth.TOTP)
    expect(uri.issuer).toBe('Initech')
    expect(uri.label).toBe('ann@initech.test')
    expect(uri.secret.base32).toBe(secret)

    const enable = await post(
      '/mfa/totp/enable',
      { code: codeAt(secret, clock.now) },
      bearer(accessToken),
    )
    expect(enable.statusCode).toBe(200)
    const { recoveryCodes } = enable.json()
    expect(recoveryCodes).toHaveLength(10)
    for (const code of recoveryCodes) expect(code).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/)
    expect(new Set(recoveryCodes).size).toBe(10)

    const user = await db.user.findUniqueOrThrow({
      where: { email: 'ann@initech.test' },
      select: { id: true, mfaEnabledAt: true },
    })
    expect(user.mfaEnabledAt).toEqual(clock.now)
    const stored = await db.totpSecret.findUniqueOrThrow({ where: { userId: user.id } })
    expect(stored.confirmedAt).toEqual(clock.now)
    expect(stored.encryptedSecret).not.toContain(secret)
    expect(stored.encryptedSecret).toMatch(/^v1\./)
    const hashes = (await db.recoveryCode.findMany({ where: { userId: user.id } })).map(
      (row) => row.codeHash,
    )
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
    expect(hashes.sort()).toEqual(
      recoveryCodes.map((code: string) => sha256(code.replaceAll('-', ''))).sort(),
    )
    const table = JSON.stringify(await db.recoveryCode.findMany({ where: { userId: user.id } }))
    for (const code of recoveryCodes) expect(table).not.toContain(code)

    // Once on, neither setup nor enable runs again.
    expect((await post('/mfa/totp/setup', {}, bearer(accessToken))).json().code).toBe(
      'ACME_AUTH_MFA_ALREADY_ENABLED',
    )
    const again = await post('/mfa/totp/enable', { code: '123456' }, bearer(accessToken))
    expect(again.statusCode).toBe(409)
  })

  it('enable refuses a wrong code and a missing setup, and changes nothing', async () => {
    await register(t, 'bea@initech.test')
    const { accessToken } = (await login(t, 'bea@initech.test')).json()
    const noSetup = await post('/mfa/totp/enable', { code: '123456' }, bearer(accessToken))
    expect(noSetup.statusCode).toBe(409)
    expect(noSetup.json().code).toBe('ACME_AUTH_MFA_SETUP_REQUIRED')
    const { secret } = (await post('/mfa/totp/setup', {}, bearer(accessToken))).json()
    const wrong = codeAt(secret, secondsFromNow(120))
    const refused = await post('/mfa/totp/enable', { code: wrong }, bearer(accessToken))
    expect(refused.statusCode).toBe(401)
    expect(refused.json().code).toBe('ACME_AUTH_INVALID_MFA_CODE')
    const user = await db.user.findUniqueOrThrow({
      where: { email: 'bea@initech.test' },
      select: { mfaEnabledAt: true },
    })
    expect(user.mfaEnabledAt).toBeNull()
    expect((await login(t, 'bea@initech.test')).json().accessToken).toEqual(expect.any(String))
  })

  it('setup and the other routes need an access token', async () => {
    for (const url of ['/mfa/totp/setup', '/mfa/totp/enable', '/mfa/totp/disable']) {
      expect((await post(url, {})).statusCode).toBe(401)
    }
  })
})

describe('login with MFA', () => {
  const email = 'cy@initech.test'
  let secret: string
  let recoveryCodes: string[]

  beforeAll(async () => {
    ;({ secret, recoveryCodes } = await userWithMfa(email))
  })

  it('answers an mfaToken and no tokens; /login/mfa with a code answers the pair', async () => {
    const response = await login(t, email)
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body).toEqual({ mfaRequired: true, mfaToken: expect.any(String) })
    expect(response.body).not.toMatch(/accessToken|refreshToken/)

    const finished = await post('/login/mfa', {
      mfaToken: body.mfaToken,
      code: codeAt(secret, clock.now),
    })
    expect(finished.statusCode).toBe(200)
    const pair = finished.json()
    expect(pair).toMatchObject({ tokenType: 'Bearer', user: { email } })
    const me = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: bearer(pair.accessToken),
    })
    expect(me.statusCode).toBe(200)

    // The mfaToken is spent.
    const spent = await post('/login/mfa', { mfaToken: body.mfaToken, code: '000000' })
    expect(spent.json().code).toBe('ACME_AUTH_INVALID_MFA_TOKEN')
  })

  it('refuses a replayed code, accepts ±1 step, refuses two steps off', async () => {
    const usedCode = codeAt(secret, clock.now)
    const replay = await post('/login/mfa', { mfaToken: await mfaToken(email), code: usedCode })
    expect(replay.statusCode).toBe(401)
    expect(replay.json().code).toBe('ACME_AUTH_INVALID_MFA_CODE')

    clock.advance(60)
    const previous = await post('/login/mfa', {
      mfaToken: await mfaToken(email),
      code: codeAt(secret, secondsFromNow(-30)),
    })
    expect(previous.statusCode).toBe(200)

    clock.advance(90)
    const token = await mfaToken(email)
    for (const offset of [-60, 60]) {
      const far = await post('/login/mfa', {
        mfaToken: token,
        code: codeAt(secret, secondsFromNow(offset)),
      })
      expect(far.statusCode).toBe(401)
    }
    // A wrong code left the mfaToken usable.
    const next = await post('/login/mfa', {
      mfaToken: token,
      code: codeAt(secret, secondsFromNow(30)),
    })
    expect(next.statusCode).toBe(200)
    clock.advance(60)
  })

  it('an mfaToken is not an access token', async () => {
    const token = await mfaToken(email)
    for (const url of ['/auth/me', '/auth/logout']) {
      const response = await t.app.inject({
        method: url === '/auth/me' ? 'GET' : 'POST',
        url,
        headers: bearer(token),
      })
      expect(response.statusCode).toBe(401)
    }
  })

  it('an expired mfaToken is refused', async () => {
    const token = await mfaToken(email)
    clock.advance(301)
    const late = await post('/login/mfa', { mfaToken: token, code: codeAt(secret, clock.now) })
    expect(late.statusCode).toBe(401)
    expect(late.json().code).toBe('ACME_AUTH_INVALID_MFA_TOKEN')
  })

  it('a recovery code works once, typed in any case and without dashes', async () => {
    const code = recoveryCodes[0] ?? ''
    const typed = code.replaceAll('-', ' ').toUpperCase()
    const first = await post('/login/mfa', { mfaToken: await mfaToken(email), code: typed })
    expect(first.statusCode).toBe(200)
    const second = await post('/login/mfa', { mfaToken: await mfaToken(email), code })
    expect(second.statusCode).toBe(401)
    expect(second.json().code).toBe('ACME_AUTH_INVALID_MFA_CODE')
  })

  it('wrong codes count against the login throttle of the account', async () => {
    const victim = 'dee@initech.test'
    const { secret: victimSecret } = await userWithMfa(victim)
    // Each password step counts as one attempt until the second factor succeeds: two logins
    // and 4 wrong codes on each token (under the per-token cap of 5) fill the budget of 10.
    let token = ''
    for (let round = 0; round < 2; round++) {
      token = await mfaToken(victim)
      for (let attempt = 0; attempt < 4; attempt++) {
        const wrong = await post('/login/mfa', { mfaToken: token, code: '000000' })
        expect(wrong.statusCode).toBe(401)
        expect(wrong.json().code).toBe('ACME_AUTH_INVALID_MFA_CODE')
      }
    }
    const throttled = await post('/login/mfa', {
      mfaToken: token,
      code: codeAt(victimSecret, clock.now),
    })
    expect(throttled.statusCode).toBe(429)
    expect(throttled.headers['retry-after']).toBeDefined()
    // Logging in again with the password does not reset the budget.
    expect((await login(t, victim)).statusCode).toBe(429)
  })
})

describe('disable and recovery codes', () => {
  it('disable needs the password and a code; then login answers tokens again', async () => {
    const email = 'eve@initech.test'
    const { secret, accessToken, userId } = await userWithMfa(email)
    const code = codeAt(secret, clock.now)
    const noPassword = await post(
      '/mfa/totp/disable',
      { password: 'wrong password here', code },
      bearer(accessToken),
    )
    expect(noPassword.statusCode).toBe(403)
    const wrongCode = await post(
      '/mfa/totp/disable',
      { password: PASSWORD, code: codeAt(secret, secondsFromNow(300)) },
      bearer(accessToken),
    )
    expect(wrongCode.statusCode).toBe(401)
    expect(wrongCode.json().code).toBe('ACME_AUTH_INVALID_MFA_CODE')
    expect((await login(t, email)).json().mfaRequired).toBe(true)

    const disabled = await post(
      '/mfa/totp/disable',
      { password: PASSWORD, code },
      bearer(accessToken),
    )
    expect(disabled.statusCode).toBe(204)
    expect(await db.totpSecret.count({ where: { userId } })).toBe(0)
    expect(await db.recoveryCode.count({ where: { userId } })).toBe(0)
    const plain = await login(t, email)
    expect(plain.json().accessToken).toEqual(expect.any(String))
    const again = await post('/mfa/totp/disable', { password: PASSWORD, code }, bearer(accessToken))
    expect(again.json().code).toBe('ACME_AUTH_MFA_NOT_ENABLED')
  })

  it('disable accepts a recovery code', async () => {
    const { accessToken, recoveryCodes } = await userWithMfa('fay@initech.test')
    const disabled = await post(
      '/mfa/totp/disable',
      { password: PASSWORD, code: recoveryCodes[3] },
      bearer(accessToken),
    )
    expect(disabled.statusCode).toBe(204)
  })

  it('regenerating recovery codes invalidates the old ones', async () => {
    const email = 'gus@initech.test'
    const { accessToken, recoveryCodes: old } = await userWithMfa(email)
    const wrongPassword = await post(
      '/mfa/recovery-codes',
      { password: 'nope nope nope' },
      bearer(accessToken),
    )
    expect(wrongPassword.statusCode).toBe(403)
    const fresh = await post('/mfa/recovery-codes', { password: PASSWORD }, bearer(accessToken))
    expect(fresh.statusCode).toBe(200)
    const { recoveryCodes } = fresh.json()
    expect(recoveryCodes).toHaveLength(10)
    expect(recoveryCodes).not.toContain(old[0])
    const stale = await post('/login/mfa', { mfaToken: await mfaToken(email), code: old[0] })
    expect(stale.statusCode).toBe(401)
    const works = await post('/login/mfa', {
      mfaToken: await mfaToken(email),
      code: recoveryCodes[0],
    })
    expect(works.statusCode).toBe(200)
  })

  it('regenerating without MFA answers 409', async () => {
    await register(t, 'hal@initech.test')
    const { accessToken } = (await login(t, 'hal@initech.test')).json()
    const response = await post('/mfa/recovery-codes', { password: PASSWORD }, bearer(accessToken))
    expect(response.statusCode).toBe(409)
    expect(response.json().code).toBe('ACME_AUTH_MFA_NOT_ENABLED')
  })
})

describe('bad input', () => {
  it('answers 400 problem+json and changes nothing', async () => {
    const email = 'ivy@initech.test'
    const { secret, accessToken, userId } = await userWithMfa(email)
    const before = await db.totpSecret.findUniqueOrThrow({ where: { userId } })
    const token = await mfaToken(email)
    const cases: Array<[string, object]> = [
      ['/mfa/totp/enable', { code: 'abcdef' }],
      ['/mfa/totp/enable', { code: '123456', extra: true }],
      ['/mfa/totp/disable', { password: PASSWORD }],
      ['/mfa/totp/disable', { password: PASSWORD, code: codeAt(secret, clock.now), extra: 1 }],
      ['/mfa/recovery-codes', {}],
      ['/login/mfa', { mfaToken: token }],
      ['/login/mfa', { mfaToken: token, code: codeAt(secret, clock.now), userId }],
      ['/login/mfa', { mfaToken: '', code: '123456' }],
    ]
    for (const [url, payload] of cases) {
      const response = await post(url, payload, bearer(accessToken))
      expect(response.statusCode, `${url} ${JSON.stringify(payload)}`).toBe(400)
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(response.json().code).toBe('ACME_CORE_VALIDATION_FAILED')
    }
    expect(await db.totpSecret.findUniqueOrThrow({ where: { userId } })).toEqual(before)
    expect(await db.recoveryCode.count({ where: { userId, usedAt: null } })).toBe(10)
    // The code sent with the refused requests was not spent, nor the mfaToken.
    const ok = await post('/login/mfa', { mfaToken: token, code: codeAt(secret, clock.now) })
    expect(ok.statusCode).toBe(200)
  })
})

describe('SecretBox', () => {
  it('refuses another context, another key and tampering', () => {
    const box = new SecretBox(randomBytes(32))
    const sealed = box.encrypt('JBSWY3DPEHPK3PXP', 'user-a')
    expect(box.decrypt(sealed, 'user-a')).toBe('JBSWY3DPEHPK3PXP')
    expect(() => box.decrypt(sealed, 'user-b')).toThrow()
    expect(() => new SecretBox(randomBytes(32)).decrypt(sealed, 'user-a')).toThrow()
    const flipped = `${sealed.slice(0, -2)}${sealed.endsWith('A') ? 'B' : 'A'}${sealed.slice(-1)}`
    expect(() => box.decrypt(flipped, 'user-a')).toThrow()
  })
})

describe('follow-ups: events, mails, other sessions, attempts per mfaToken', () => {
  async function mailsTo(to: string, subject: string) {
    const deadline = Date.now() + 5_000
    for (;;) {
      const found = t.app.mailer.sent.filter(
        (mail) => mail.to === to && mail.subject.includes(subject),
      )
      if (found.length > 0 || Date.now() > deadline) return found
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
  const me = (accessToken: string) =>
    t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(accessToken) })

  it('enabling and disabling emit events, mail the user and end every other session', async () => {
    const events: Array<{ name: string; userId: string }> = []
    const off = [
      t.app.events.on('user.mfa_enabled', (event) => {
        events.push({ name: event.name, userId: event.payload.userId })
      }),
      t.app.events.on('user.mfa_disabled', (event) => {
        events.push({ name: event.name, userId: event.payload.userId })
      }),
    ]
    try {
      const email = 'followup-fay@initech.test'
      await register(t, email)
      const laptop = (await login(t, email)).json()
      const phone = (await login(t, email)).json()
      const { userId, secret } = await (async () => {
        const setup = await post('/mfa/totp/setup', {}, bearer(laptop.accessToken))
        const key: string = setup.json().secret
        const enabled = await post(
          '/mfa/totp/enable',
          { code: codeAt(key, clock.now) },
          bearer(laptop.accessToken),
        )
        expect(enabled.statusCode).toBe(200)
        const row = await db.user.findUniqueOrThrow({ where: { email } })
        return { userId: row.id, secret: key }
      })()
      expect(events).toEqual([{ name: 'user.mfa_enabled', userId }])
      const [onMail] = await mailsTo(email, 'Two-factor authentication is on')
      expect(onMail?.text).toContain('https://api.initech.test/reset-password')
      // The device that turned it on keeps working; the other one must sign in again.
      expect((await me(laptop.accessToken)).statusCode).toBe(200)
      expect((await me(phone.accessToken)).statusCode).toBe(401)
      const phoneRefresh = await post('/refresh', { refreshToken: phone.refreshToken })
      expect(phoneRefresh.statusCode).toBe(401)

      // A new device signs in with a code, then the laptop turns MFA off.
      clock.advance(30)
      const tablet = await post('/login/mfa', {
        mfaToken: await mfaToken(email),
        code: codeAt(secret, clock.now),
      })
      expect(tablet.statusCode).toBe(200)
      clock.advance(30)
      const disabled = await post(
        '/mfa/totp/disable',
        { password: PASSWORD, code: codeAt(secret, clock.now) },
        bearer(laptop.accessToken),
      )
      expect(disabled.statusCode).toBe(204)
      expect(events).toEqual([
        { name: 'user.mfa_enabled', userId },
        { name: 'user.mfa_disabled', userId },
      ])
      expect(await mailsTo(email, 'Two-factor authentication is off')).toHaveLength(1)
      expect((await me(laptop.accessToken)).statusCode).toBe(200)
      expect((await me(tablet.json().accessToken)).statusCode).toBe(401)
    } finally {
      for (const unsubscribe of off) unsubscribe()
    }
  })

  it('a failed enable or disable ends nothing and sends nothing', async () => {
    const email = 'followup-gus@initech.test'
    await register(t, email)
    const laptop = (await login(t, email)).json()
    const phone = (await login(t, email)).json()
    await post('/mfa/totp/setup', {}, bearer(laptop.accessToken))
    const wrong = await post('/mfa/totp/enable', { code: '000000' }, bearer(laptop.accessToken))
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json().code).toBe('ACME_AUTH_INVALID_MFA_CODE')
    expect((await me(phone.accessToken)).statusCode).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(
      t.app.mailer.sent.filter((mail) => mail.to === email && mail.subject.includes('Two-factor')),
    ).toHaveLength(0)
  })

  it('5 wrong codes end the mfaToken: 401 ACME_AUTH_MFA_ATTEMPTS_EXCEEDED, log in again', async () => {
    const email = 'followup-hal@initech.test'
    const { secret, userId } = await userWithMfa(email)
    const token = await mfaToken(email)
    for (let attempt = 1; attempt <= 4; attempt++) {
      const wrong = await post('/login/mfa', { mfaToken: token, code: '000000' })
      expect(wrong.json().code).toBe('ACME_AUTH_INVALID_MFA_CODE')
    }
    const fifth = await post('/login/mfa', { mfaToken: token, code: '000000' })
    expect(fifth.statusCode).toBe(401)
    expect(fifth.json().code).toBe('ACME_AUTH_MFA_ATTEMPTS_EXCEEDED')
    // Even the right code cannot revive it.
    const right = await post('/login/mfa', { mfaToken: token, code: codeAt(secret, clock.now) })
    expect(right.statusCode).toBe(401)
    expect(right.json().code).toBe('ACME_AUTH_INVALID_MFA_TOKEN')
    const row = await db.oneTimeToken.findUniqueOrThrow({
      where: { tokenHash: createHash('sha256').update(token).digest('hex') },
    })
    expect(row).toMatchObject({ userId, purpose: 'mfa_login', usedAt: clock.now })
    // A new login gets a new budget.
    const again = await post('/login/mfa', {
      mfaToken: await mfaToken(email),
      code: codeAt(secret, clock.now),
    })
    expect(again.statusCode).toBe(200)
  })

  it('parallel guesses on one mfaToken get at most 5 codes checked', async () => {
    const email = 'followup-ida@initech.test'
    await userWithMfa(email)
    const token = await mfaToken(email)
    const answers = await Promise.all(
      Array.from({ length: 9 }, () => post('/login/mfa', { mfaToken: token, code: '000000' })),
    )
    const codes = answers.map((answer) => answer.json().code as string)
    expect(codes.filter((code) => code === 'ACME_AUTH_INVALID_MFA_CODE')).toHaveLength(4)
    expect(codes.every((code) => code.startsWith('ACME_AUTH_'))).toBe(true)
    expect(answers.every((answer) => answer.statusCode === 401)).toBe(true)
  })
})

describe('API keys', () => {
  it('cannot enrol, enable or disable two-factor, or regenerate codes (403)', async () => {
    const email = 'followup-key@initech.test'
    await register(t, email)
    const { accessToken } = (await login(t, email)).json()
    const created = await post('/api-keys', { name: 'ci' }, bearer(accessToken))
    const key = { 'x-api-key': created.json().key as string }
    for (const [url, payload] of [
      ['/mfa/totp/setup', {}],
      ['/mfa/totp/enable', { code: '123456' }],
      ['/mfa/totp/disable', { password: PASSWORD, code: '123456' }],
      ['/mfa/recovery-codes', { password: PASSWORD }],
    ] as const) {
      const response = await post(url, payload, key)
      expect(response.statusCode).toBe(403)
      expect(response.json().code).toBe('ACME_AUTH_API_KEY_NOT_ALLOWED')
    }
    const { id } = await db.user.findUniqueOrThrow({ where: { email } })
    expect(await db.totpSecret.findUnique({ where: { userId: id } })).toBeNull()
  })
})
