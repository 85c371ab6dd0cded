// A database outage is not a wrong password: logins that fail because PostgreSQL is gone must
// not count against the throttle, or every user who tried during the outage is locked out after.
import {
  createTestDatabase,
  startTcpProxy,
  type TcpProxy,
  type TestDatabase,
} from '@acme/test-support'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { type AuthTestApp, createAuthApp, migrationsDir, register } from './support/app.js'

const PASSWORD = 'correct horse battery'
const WRONG = 'wrong password here'
const EMAIL = 'outage@initech.test'
const ADDRESS = '192.0.2.50'

let database: TestDatabase
let proxy: TcpProxy
let t: AuthTestApp
const failed: string[] = []

beforeAll(async () => {
  database = await createTestDatabase({ migrationsDir, label: 'auth_outage' })
  const url = new URL(database.url)
  proxy = await startTcpProxy(url.hostname, Number(url.port || 5432))
  t = await createAuthApp(
    {},
    {
      label: 'auth_outage',
      database: { ...database, url: proxy.url(database.url) },
      core: { rateLimit: false },
      routes: (app) => {
        app.events.on('user.login_failed', (event) => {
          failed.push(event.payload.reason)
        })
      },
    },
  )
  expect((await register(t, EMAIL)).statusCode).toBe(202)
})

afterAll(async () => {
  await proxy?.restore().catch(() => {})
  await t?.close()
  await proxy?.close()
  await database?.drop()
})

function login(password: string, ip = ADDRESS): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email: EMAIL, password },
    remoteAddress: ip,
  })
}

/** Until the app's database pool answers again (real time, bounded): not through /login. */
async function databaseBack(): Promise<void> {
  const db = t.app.prisma as unknown as AuthDb
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await db.user.count()
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

describe('CH-02 for login: attempts that end in 503 do not count as failures', () => {
  it('logins during the outage get 503; after recovery the right password succeeds at once', async () => {
    expect((await login(PASSWORD)).statusCode).toBe(200)

    await proxy.cut()
    // As many attempts as failures that throttle an account, right and wrong passwords alike.
    for (let attempt = 0; attempt < 10; attempt++) {
      const response = await login(attempt % 2 === 0 ? PASSWORD : WRONG)
      expect(response.statusCode).toBe(503)
      expect(response.body).not.toMatch(/ECONNREFUSED|ECONNRESET|Prisma|postgres/i)
    }
    expect(failed).toEqual([])

    await proxy.restore()
    await databaseBack()
    const recovered = await login(PASSWORD)
    expect(recovered.statusCode).toBe(200)
    // Verified-wrong passwords still count after recovery: the throttle itself is intact.
    for (let attempt = 0; attempt < 10; attempt++) {
      expect((await login(WRONG)).statusCode).toBe(401)
    }
    expect((await login(PASSWORD)).statusCode).toBe(429)
  })
})
