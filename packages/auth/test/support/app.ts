import { fileURLToPath } from 'node:url'
import { createTestApp, type TestApp, type TestAppOptions } from '@acme/test-support'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeAuth, { type AuthOptions } from '../../src/index.js'
import { type TestClock, testClock } from './clock.js'

export const migrationsDir = fileURLToPath(new URL('../../prisma/migrations', import.meta.url))

export interface AuthTestApp extends TestApp {
  /** A clock the test moves: expiry and lifetimes without sleeping. */
  clock: TestClock
}

/** An app with core and auth on a fresh database (or a shared one, for multi-instance tests). */
export async function createAuthApp(
  options: Partial<AuthOptions> = {},
  harness: Omit<TestAppOptions, 'setup' | 'PrismaClient' | 'migrationsDir'> = {},
): Promise<AuthTestApp> {
  const clock = testClock()
  const app = await createTestApp({
    label: 'auth',
    migrationsDir,
    PrismaClient,
    ...harness,
    setup: async (instance) => {
      await instance.register(acmeAuth, {
        jwt: { issuer: 'https://api.initech.test' },
        clock: () => clock.now,
        ...options,
      })
    },
  })
  return Object.assign(app, { clock })
}

export async function register(t: TestApp, email: string, password = 'correct horse battery') {
  return t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password } })
}

export async function login(t: TestApp, email: string, password = 'correct horse battery') {
  const response = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
  })
  return response
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
