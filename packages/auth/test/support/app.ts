import {
  createTestApp,
  schemaMigrationsDir,
  type TestApp,
  type TestAppOptions,
} from '@acme/test-support'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeAuth, { type AuthOptions } from '../../src/index.js'
import { type TestClock, testClock } from './clock.js'

/** Built for this run from the merged schema of the fragments (vitest.config.ts's globalSetup). */
export const migrationsDir = schemaMigrationsDir()

export interface AuthTestApp extends TestApp {
  /** A clock the test moves: expiry and lifetimes without sleeping. */
  clock: TestClock
}

export interface AuthHarness
  extends Omit<TestAppOptions, 'setup' | 'PrismaClient' | 'migrationsDir'> {
  /** The clock auth reads; a new one by default. */
  clock?: TestClock
  /** Test routes registered after auth. */
  routes?: (app: FastifyInstance) => void | Promise<void>
}

/** An app with core and auth on a fresh database (or a shared one, for multi-instance tests). */
export async function createAuthApp(
  options: Partial<AuthOptions> = {},
  harness: AuthHarness = {},
): Promise<AuthTestApp> {
  const { clock = testClock(), routes, ...testApp } = harness
  const app = await createTestApp({
    label: 'auth',
    migrationsDir,
    PrismaClient,
    ...testApp,
    setup: async (instance) => {
      await instance.register(acmeAuth, {
        jwt: { issuer: 'https://api.initech.test' },
        clock: () => clock.now,
        ...options,
      })
      await routes?.(instance)
    },
  })
  return Object.assign(app, { clock })
}

export async function register(
  t: TestApp,
  email: string,
  password = 'correct horse battery',
): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password } })
}

export async function login(
  t: TestApp,
  email: string,
  password = 'correct horse battery',
): Promise<LightMyRequestResponse> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
  })
  return response
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
