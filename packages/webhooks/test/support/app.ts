import { randomBytes } from 'node:crypto'
import acmeAuth from '@acme/auth'
import type { CoreOptions } from '@acme/core'
import acmeRbac from '@acme/rbac'
import acmeTenancy from '@acme/tenancy'
import {
  type AppRoleDatabase,
  type AppRoleTestApp,
  createAppRoleTestApp,
  schemaMigrationsDir,
} from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeWebhooks, { type WebhooksOptions } from '../../src/index.js'

/** Built for this run from the merged schema of the fragments (vitest.config.ts's globalSetup). */
export const migrationsDir = schemaMigrationsDir()
export { bearer, createTenant, signUp, TEST_PASSWORD as PASSWORD } from '@acme/test-support'

/** A fresh `encryptionKey`: 32 random bytes in base64. */
export const newEncryptionKey = (): string => randomBytes(32).toString('base64')

export interface WebhooksHarness {
  label?: string
  redis?: boolean
  core?: Partial<CoreOptions>
  /** Another app's database (a second instance of one deployment); not dropped by this one. */
  database?: AppRoleDatabase
  /** Another app's Redis prefix: the instances share their job queues. */
  redisPrefix?: string
  /** Event types, test routes: registered after the plugins. */
  routes?: (app: FastifyInstance) => void | Promise<void>
}

export type WebhooksTestApp = AppRoleTestApp

/** Core, auth, tenancy, rbac and webhooks on a fresh database, connected as the app role. */
export async function createWebhooksApp(
  options: Partial<WebhooksOptions> = {},
  harness: WebhooksHarness = {},
): Promise<WebhooksTestApp> {
  return createAppRoleTestApp({
    label: harness.label ?? 'webhooks',
    migrationsDir,
    PrismaClient,
    ...(harness.redis === false ? { redis: false } : {}),
    ...(harness.core ? { core: harness.core } : {}),
    ...(harness.database ? { database: harness.database } : {}),
    ...(harness.redisPrefix ? { redisPrefix: harness.redisPrefix } : {}),
    setup: async (instance) => {
      await instance.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
      await instance.register(acmeTenancy, {})
      await instance.register(acmeRbac, {})
      await instance.register(acmeWebhooks, { encryptionKey: newEncryptionKey(), ...options })
      await harness.routes?.(instance)
    },
  })
}

/** Runs SQL on a connection of its own (the owner's, the app role's), closed afterwards. */
export async function sql<Row extends Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<Row>(text, values)).rows
  } finally {
    await client.end()
  }
}
