import { generateKeyPairSync } from 'node:crypto'
import acmeAuth, { type AuthOptions } from '@acme/auth'
import type { CoreOptions } from '@acme/core'
import acmeRbac from '@acme/rbac'
import acmeTenancy from '@acme/tenancy'
import { waitFor } from '@acme/test-kit'
import {
  type AppRoleDatabase,
  type AppRoleTestApp,
  createAppRoleDatabase,
  createAppRoleTestApp,
  schemaMigrationsDir,
} from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeAudit, { type AuditOptions } from '../../src/index.js'

/** Built for this run from the merged schema of the fragments (vitest.config.ts's globalSetup). */
export const migrationsDir = schemaMigrationsDir()
export { bearer, createTenant, signUp, TEST_PASSWORD as PASSWORD } from '@acme/test-support'

/** A fresh Ed25519 key in PEM, as `checkpointKey` takes it. */
export function checkpointKeyPem(): string {
  return generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString()
}

export interface AuditHarness {
  label?: string
  /** Real Redis (default), or none: core's in-process jobs, driven by `core.jobs.clock`. */
  redis?: boolean
  core?: Partial<CoreOptions>
  auth?: Partial<AuthOptions>
  /** Share a database (another instance, a restart); then not dropped with the app. */
  database?: AppRoleDatabase
  /** Test routes and action definitions, registered after the plugins. */
  routes?: (app: FastifyInstance) => void | Promise<void>
}

export type AuditTestApp = AppRoleTestApp

/** Core, auth, tenancy, rbac and audit on a fresh database, connected as the app role. */
export async function createAuditApp(
  options: Partial<AuditOptions> = {},
  harness: AuditHarness = {},
): Promise<AuditTestApp> {
  return createAppRoleTestApp({
    label: harness.label ?? 'audit',
    migrationsDir,
    PrismaClient,
    ...(harness.redis === false ? { redis: false } : {}),
    ...(harness.core ? { core: harness.core } : {}),
    ...(harness.database ? { database: harness.database } : {}),
    setup: async (instance) => {
      await instance.register(acmeAuth, {
        jwt: { issuer: 'https://api.initech.test' },
        ...harness.auth,
      })
      await instance.register(acmeTenancy, {})
      await instance.register(acmeRbac, {})
      await instance.register(acmeAudit, { checkpointKey: checkpointKeyPem(), ...options })
      await harness.routes?.(instance)
    },
  })
}

/** A database built by the migration owner, and the unprivileged role the apps connect as. */
export const createAuditDatabase = (label: string): Promise<AppRoleDatabase> =>
  createAppRoleDatabase({ migrationsDir, label })

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

/** Every audit row, read by the migration owner (no policy applies to it), oldest first. */
export function allEntries(t: AuditTestApp) {
  return sql<{
    id: string
    tenant_id: string | null
    pos: string
    /** Null until the linker has linked the entry. */
    seq: number
    action: string
    action_version: number
    actor: Record<string, unknown>
    targets: Array<{ type: string; id: string }>
    metadata: Record<string, unknown>
    before: unknown
    after: unknown
    changes: unknown
    ip: string | null
    user_agent: string | null
    request_id: string | null
    occurred_at: Date
    content_hash: string
    hash: string
    prev_hash: string
  }>(t.db.owner.url, 'SELECT * FROM audit_events ORDER BY tenant_id NULLS FIRST, seq, pos')
}

/** Entries recorded but not linked into their chain yet, read by the owner. */
export async function unlinkedCount(t: AuditTestApp): Promise<number> {
  const rows = await sql<{ n: number }>(
    t.db.owner.url,
    'SELECT count(*)::int AS n FROM audit_events WHERE seq IS NULL',
  )
  return rows[0]?.n ?? 0
}

/** Waits for the background linker to link every committed entry (a condition, not a sleep). */
export async function untilLinked(t: AuditTestApp): Promise<void> {
  await waitFor(async () => (await unlinkedCount(t)) === 0)
}
