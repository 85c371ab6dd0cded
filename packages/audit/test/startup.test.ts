import acmeAuth from '@acme/auth'
import { type AppRoleDatabase, createAppRoleTestApp } from '@acme/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrismaClient } from '../src/generated/prisma/client.js'
import acmeAudit from '../src/index.js'
import {
  checkpointKeyPem,
  createAuditApp,
  createAuditDatabase,
  migrationsDir,
} from './support/app.js'

// One database for every app of this file: an app that fails to start drops nothing.
let database: AppRoleDatabase

beforeAll(async () => {
  database = await createAuditDatabase('audit_startup')
})

afterAll(async () => {
  await database?.drop()
})

/** Starts an app with these audit options; resolves with the startup error's message, or null. */
async function startupError(options: Record<string, unknown>): Promise<string | null> {
  try {
    const t = await createAuditApp(options as never, {
      label: 'audit_startup',
      redis: false,
      database,
    })
    await t.close()
    return null
  } catch (error) {
    return (error as Error).message
  }
}

describe('options are checked when the app starts', () => {
  it('names checkpointKey when retention is on without one', async () => {
    const message = await startupError({ checkpointKey: undefined })
    expect(message).toContain('@acme/audit')
    expect(message).toContain('checkpointKey')
  })

  it('refuses a key that is not an Ed25519 private key, without echoing it', async () => {
    const message = await startupError({ checkpointKey: 'not a pem secret-ish-material' })
    expect(message).toContain('checkpointKey')
    expect(message).not.toContain('secret-ish-material')
  })

  it('names an unknown option', async () => {
    expect(await startupError({ retention: { enabled: false }, retentionDayz: 3 })).toContain(
      'retentionDayz',
    )
  })

  it('starts without a key when retention is off', async () => {
    expect(
      await startupError({ checkpointKey: undefined, retention: { enabled: false } }),
    ).toBeNull()
  })

  it('needs tenancy registered first', async () => {
    await expect(
      createAppRoleTestApp({
        label: 'audit_order',
        migrationsDir,
        PrismaClient,
        database,
        redis: false,
        setup: async (app) => {
          await app.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
          await app.register(acmeAudit, { checkpointKey: checkpointKeyPem() })
        },
      }),
    ).rejects.toThrow(/'@acme\/tenancy' of plugin '@acme\/audit'/)
  })
})
