import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AuthTestApp, bearer, createAuthApp, login, register } from './support/app.js'

// Both instances sign with the same key, as a real deployment configures it.
const sharedKey = {
  kty: 'OKP',
  crv: 'Ed25519',
  kid: 'test-key-1',
  alg: 'EdDSA',
  x: 'j3s0Pb6I5Rp6UXSvOTZY7GYp2L9q52kShCZcpzva2Hk',
  d: 'HsowerHb7hnZNvtT4eGREpiOXvvx6YqMhWUbkZnov1I',
}

let first: AuthTestApp
let second: AuthTestApp

beforeAll(async () => {
  const jwt = { issuer: 'https://api.initech.test', privateKeys: [sharedKey] }
  first = await createAuthApp({ jwt })
  if (!first.database || !first.redisPrefix) throw new Error('the harness gave no database')
  second = await createAuthApp(
    { jwt },
    { database: first.database, redisPrefix: first.redisPrefix },
  )
})
afterAll(async () => {
  await second.close()
  await first.close()
})

async function meStatus(instance: AuthTestApp, token: string) {
  const response = await instance.app.inject({
    method: 'GET',
    url: '/auth/me',
    headers: bearer(token),
  })
  return response.statusCode
}

describe('revocation across instances', () => {
  it('a logout on one instance is enforced by the other within a second', async () => {
    await register(first, 'gus@initech.test')
    const { accessToken } = (await login(first, 'gus@initech.test')).json()
    expect(await meStatus(second, accessToken)).toBe(200)

    await first.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(accessToken) })
    const started = performance.now()
    let status = await meStatus(second, accessToken)
    while (status === 200 && performance.now() - started < 2_000) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      status = await meStatus(second, accessToken)
    }
    const elapsed = performance.now() - started
    expect(status).toBe(401)
    expect(elapsed).toBeLessThan(1_000)
  })

  it('an instance started after a revocation knows it', async () => {
    await register(first, 'hal@initech.test')
    const { accessToken } = (await login(first, 'hal@initech.test')).json()
    await first.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(accessToken) })
    const late = await createAuthApp(
      { jwt: { issuer: 'https://api.initech.test', privateKeys: [sharedKey] } },
      { database: first.database ?? undefined, redisPrefix: first.redisPrefix ?? undefined },
    )
    try {
      expect(await meStatus(late, accessToken)).toBe(401)
    } finally {
      await late.close()
    }
  })
})
