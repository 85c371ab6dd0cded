import { createPublicKey, type JsonWebKey, verify } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { waitFor } from '@acme/test-kit'
import { hash as argon2Hash } from '@node-rs/argon2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AuthTestApp, bearer, createAuthApp, login, register } from './support/app.js'

let t: AuthTestApp
const PASSWORD = 'correct horse battery'

beforeAll(async () => {
  t = await createAuthApp()
})
afterAll(async () => {
  await t.close()
})

const strip = (body: Record<string, unknown>) => {
  const { requestId: _requestId, ...rest } = body
  return rest
}

describe('POST /auth/register', () => {
  it('answers the same 202 for a new and an existing email, and creates one account', async () => {
    const fresh = await register(t, 'ann@initech.test')
    const again = await register(t, 'ANN@initech.test ')
    expect(fresh.statusCode).toBe(202)
    expect(again.statusCode).toBe(202)
    expect(again.body).toBe(fresh.body)
    const prisma = t.app.prisma as unknown as { user: { count(args: object): Promise<number> } }
    expect(await prisma.user.count({ where: { email: 'ann@initech.test' } })).toBe(1)
    const mailsTo = () => t.app.mailer.sent.filter((mail) => mail.to === 'ann@initech.test')
    for (let tries = 0; mailsTo().length < 3 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    // Mail jobs may finish in any order.
    const mails = mailsTo()
    expect(mails.map((mail) => mail.subject).sort()).toEqual([
      'Confirm your email address for Initech',
      'Welcome to Initech',
      'Your Initech account',
    ])
    const exists = mails.find((mail) => mail.subject === 'Your Initech account')
    expect(exists?.text).toContain('https://api.initech.test/reset-password')
  })

  it.each([
    ['11 characters', 'abcdefghijk'],
    ['a common password', 'password1234'],
  ])('refuses %s with 400 and creates nothing', async (_label, password) => {
    const response = await register(t, 'weak@initech.test', password)
    expect(response.statusCode).toBe(400)
    expect(response.json().code).toBe('ACME_AUTH_WEAK_PASSWORD')
    expect((await login(t, 'weak@initech.test', password)).statusCode).toBe(401)
  })

  it('refuses fields a client must not set (AZ-04) and malformed input', async () => {
    for (const payload of [
      { email: 'x@initech.test', password: PASSWORD, emailVerified: true },
      { email: 'x@initech.test', password: PASSWORD, passwordHash: 'x' },
      { email: 'not-an-email', password: PASSWORD },
      { email: 'x@initech.test' },
    ]) {
      const response = await t.app.inject({ method: 'POST', url: '/auth/register', payload })
      expect(response.statusCode).toBe(400)
      expect(response.json().code).toBe('ACME_CORE_VALIDATION_FAILED')
    }
    expect((await login(t, 'x@initech.test')).statusCode).toBe(401)
  })
})

describe('POST /auth/login', () => {
  beforeAll(async () => {
    await register(t, 'bob@initech.test')
  })

  it('answers a token pair and the user, without secrets', async () => {
    const response = await login(t, 'Bob@Initech.test')
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body).toMatchObject({
      tokenType: 'Bearer',
      expiresIn: 900,
      user: { email: 'bob@initech.test', emailVerified: false, name: null },
    })
    expect(body.accessToken.split('.')).toHaveLength(3)
    expect(body.refreshToken.length).toBeGreaterThanOrEqual(43)
    expect(response.body).not.toMatch(/passwordHash|argon2/)
  })

  it('ENUM-01: unknown email and wrong password answer identically', async () => {
    const unknown = await login(t, 'nobody@initech.test', 'wrong password here')
    const wrong = await login(t, 'bob@initech.test', 'wrong password here')
    expect(unknown.statusCode).toBe(401)
    expect(wrong.statusCode).toBe(401)
    expect(strip(unknown.json())).toEqual(strip(wrong.json()))
    expect(unknown.json().code).toBe('ACME_AUTH_INVALID_CREDENTIALS')
    const headerNames = (headers: Record<string, unknown>) =>
      Object.keys(headers)
        .filter((name) => !['date', 'x-request-id', 'content-length'].includes(name))
        .sort()
    expect(headerNames(unknown.headers)).toEqual(headerNames(wrong.headers))
  })
})

describe('PWD-02: a weaker hash is replaced at the next successful login', () => {
  const email = 'old-hash@initech.test'
  const users = () =>
    t.app.prisma as unknown as {
      user: {
        update(args: object): Promise<unknown>
        findUniqueOrThrow(args: object): Promise<{ passwordHash: string }>
      }
    }
  const stored = async () =>
    (await users().user.findUniqueOrThrow({ where: { email }, select: { passwordHash: true } }))
      .passwordHash
  const memoryCost = (hash: string) => Number(/\$m=(\d+),/.exec(hash)?.[1])

  it('keeps it through a failed login and upgrades it on the right password', async () => {
    await register(t, email)
    // 8 MiB and one pass, as an older release of the product might have stored it (argon2id = 2).
    const weak = await argon2Hash(PASSWORD, {
      algorithm: 2,
      memoryCost: 8_192,
      timeCost: 1,
      parallelism: 1,
    })
    await users().user.update({ where: { email }, data: { passwordHash: weak } })

    expect((await login(t, email, 'not the password at all')).statusCode).toBe(401)
    expect(await stored()).toBe(weak)

    expect((await login(t, email)).statusCode).toBe(200)
    const upgraded = await stored()
    expect(upgraded).not.toBe(weak)
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$/)
    expect(memoryCost(upgraded)).toBeGreaterThanOrEqual(19_456)
    expect((await login(t, email)).statusCode).toBe(200)
    expect(await stored()).toBe(upgraded)
  })
})

describe('tokens on protected routes', () => {
  let accessToken: string
  let refreshToken: string

  beforeAll(async () => {
    await register(t, 'cy@initech.test')
    const body = (await login(t, 'cy@initech.test')).json()
    accessToken = body.accessToken
    refreshToken = body.refreshToken
  })

  it('GET /auth/me needs a token and answers the profile', async () => {
    const anonymous = await t.app.inject({ method: 'GET', url: '/auth/me' })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.headers['www-authenticate']).toBe('Bearer')
    expect(anonymous.json().code).toBe('ACME_AUTH_UNAUTHENTICATED')
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(accessToken) })
    expect(me.statusCode).toBe(200)
    expect(me.json()).toMatchObject({ email: 'cy@initech.test' })
  })

  it('PATCH /auth/me changes the name and refuses anything else', async () => {
    const renamed = await t.app.inject({
      method: 'PATCH',
      url: '/auth/me',
      headers: bearer(accessToken),
      payload: { name: 'Cy' },
    })
    expect(renamed.json()).toMatchObject({ name: 'Cy' })
    for (const payload of [{ email: 'evil@initech.test' }, { name: 'Cy', emailVerified: true }]) {
      const refused = await t.app.inject({
        method: 'PATCH',
        url: '/auth/me',
        headers: bearer(accessToken),
        payload,
      })
      expect(refused.statusCode).toBe(400)
    }
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(accessToken) })
    expect(me.json()).toMatchObject({ email: 'cy@initech.test', name: 'Cy', emailVerified: false })
  })

  it('JWT-06: a token with one payload character changed is refused', async () => {
    const [header, payload, signature] = accessToken.split('.')
    const flipped = `${payload?.slice(0, 10)}${payload?.[10] === 'A' ? 'B' : 'A'}${payload?.slice(11)}`
    const response = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: bearer(`${header}.${flipped}.${signature}`),
    })
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('ACME_AUTH_INVALID_TOKEN')
  })

  it('JWT-04: POST /auth/refresh refuses an access token, which stays valid', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken: accessToken },
    })
    // Refresh tokens are opaque base64url: a JWT does not even have their shape.
    expect(response.statusCode).toBe(400)
    expect(response.json().code).toBe('ACME_CORE_VALIDATION_FAILED')
    expect(response.json().accessToken).toBeUndefined()
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(accessToken) })
    expect(me.statusCode).toBe(200)
  })

  it('POST /auth/refresh rotates; a spent token past the grace window ends the session', async () => {
    const first = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken },
    })
    expect(first.statusCode).toBe(200)
    const next = first.json()
    expect(next.refreshToken).not.toBe(refreshToken)

    t.clock.advance(5)
    const reuse = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken },
    })
    expect(reuse.statusCode).toBe(401)
    expect(reuse.json().code).toBe('ACME_AUTH_TOKEN_REUSE')
    const successor = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken: next.refreshToken },
    })
    expect(successor.statusCode).toBe(401)
    const stale = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: bearer(next.accessToken),
    })
    expect(stale.statusCode).toBe(401)
    // The owner is told, with the way out if the copy was not theirs.
    const alert = await waitFor(
      () =>
        t.app.mailer.sent.find(
          (mail) => mail.to === 'cy@initech.test' && mail.subject.startsWith('We signed out'),
        ) ?? false,
    )
    expect(alert.subject).toBe('We signed out a session of your Initech account')
    expect(alert.text).toContain('https://api.initech.test/reset-password')
    expect(alert.text).not.toContain(refreshToken)
  })
})

describe('SES-01: revocation is immediate', () => {
  it('logout refuses that session at once and leaves the others', async () => {
    await register(t, 'dee@initech.test')
    const phone = (await login(t, 'dee@initech.test')).json()
    const laptop = (await login(t, 'dee@initech.test')).json()
    const out = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: bearer(phone.accessToken),
    })
    expect(out.statusCode).toBe(204)
    const after = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: bearer(phone.accessToken),
    })
    expect(after.statusCode).toBe(401)
    const refresh = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken: phone.refreshToken },
    })
    expect(refresh.statusCode).toBe(401)
    const other = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: bearer(laptop.accessToken),
    })
    expect(other.statusCode).toBe(200)
  })

  it('logout-all ends every device', async () => {
    await register(t, 'eve@initech.test')
    const devices = [
      (await login(t, 'eve@initech.test')).json(),
      (await login(t, 'eve@initech.test')).json(),
      (await login(t, 'eve@initech.test')).json(),
    ]
    await t.app.inject({
      method: 'POST',
      url: '/auth/logout-all',
      headers: bearer(devices[0].accessToken),
    })
    for (const device of devices) {
      const response = await t.app.inject({
        method: 'GET',
        url: '/auth/me',
        headers: bearer(device.accessToken),
      })
      expect(response.statusCode).toBe(401)
    }
  })
})

describe('GET /.well-known/jwks.json', () => {
  it('lets another service verify our tokens with its own crypto, over HTTP', async () => {
    await register(t, 'fay@initech.test')
    const { accessToken } = (await login(t, 'fay@initech.test')).json()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = t.app.server.address() as AddressInfo
    const jwks = (await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json()) as {
      keys: Array<Record<string, string>>
    }
    const [encodedHeader, encodedPayload, signature] = accessToken.split('.')
    const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString())
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' })
    const key = jwks.keys.find((candidate) => candidate.kid === header.kid)
    expect(key).toBeDefined()
    expect(key).not.toHaveProperty('d')
    const valid = verify(
      null,
      Buffer.from(`${encodedHeader}.${encodedPayload}`),
      createPublicKey({ key: key as JsonWebKey, format: 'jwk' }),
      Buffer.from(signature, 'base64url'),
    )
    expect(valid).toBe(true)
    const claims = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString())
    expect(claims).toMatchObject({
      iss: 'https://api.initech.test',
      aud: 'https://api.initech.test',
    })
    expect(claims.exp - claims.iat).toBe(900)
  })
})
