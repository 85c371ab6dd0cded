import acmeAuth from '@acme/auth'
import acmeCore, { serverOptions } from '@acme/core'
import acmeTenancy from '@acme/tenancy'
import { type AppRoleDatabase, createAppRoleDatabase, TEST_BRAND } from '@acme/test-support'
import Fastify from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PrismaClient } from '../src/generated/prisma/client.js'
import acmeWebhooks, { type WebhooksOptions } from '../src/index.js'
import { migrationsDir, newEncryptionKey } from './support/app.js'

let db: AppRoleDatabase

beforeAll(async () => {
  db = await createAppRoleDatabase({ migrationsDir, label: 'webhooks_options' })
})
afterAll(async () => {
  await db?.drop()
})

/** Core, auth, tenancy and webhooks with these options, made ready, then closed either way. */
async function start(options: Partial<WebhooksOptions>): Promise<void> {
  const app = Fastify(serverOptions({ logger: false }))
  try {
    await app.register(acmeCore, {
      brand: TEST_BRAND,
      mail: { transport: 'memory' },
      database: { url: db.app.url, PrismaClient, poolSize: 2 },
    })
    await app.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
    await app.register(acmeTenancy, { rateLimit: { enabled: false } })
    await app.register(acmeWebhooks, options as WebhooksOptions)
    await app.ready()
  } finally {
    await app.close().catch(() => undefined)
  }
}

const environment = process.env.NODE_ENV
afterEach(() => {
  process.env.NODE_ENV = environment
})

describe('options are checked before anything starts', () => {
  it.each([
    [{}, 'encryptionKey'],
    [{ encryptionKey: Buffer.alloc(16).toString('base64') }, 'encryptionKey'],
    [{ encryptionKey: newEncryptionKey(), secretBytes: 16 }, 'secretBytes'],
    [{ encryptionKey: newEncryptionKey(), timeoutMs: 0 }, 'timeoutMs'],
    [{ encryptionKey: newEncryptionKey(), retryScheduleSeconds: [5, -1] }, 'retryScheduleSeconds'],
    [
      { encryptionKey: newEncryptionKey(), ssrf: { allowAddresses: ['localhost'] } },
      'ssrf.allowAddresses',
    ],
    [{ encryptionKey: newEncryptionKey(), unknownOption: true }, 'unknownOption'],
  ])('%j fails ready() naming %s', async (options, named) => {
    await expect(start(options as Partial<WebhooksOptions>)).rejects.toThrow(named)
  })

  it('the loopback allowlist is refused in production', async () => {
    process.env.NODE_ENV = 'production'
    await expect(
      start({ encryptionKey: newEncryptionKey(), ssrf: { allowAddresses: ['127.0.0.1'] } }),
    ).rejects.toThrow(/ssrf\.allowAddresses.*production/)
  })

  it('valid options start', async () => {
    await expect(start({ encryptionKey: newEncryptionKey() })).resolves.toBeUndefined()
  })
})
