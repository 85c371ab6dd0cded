import { createPublicKey, randomBytes, verify } from 'node:crypto'
import { ensureAppRole, migrateApply } from '@acme/cli'
import { waitFor } from '@acme/test-kit'
import { type AppRoleDatabase, TEST_DATABASE_URL } from '@acme/test-support'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AuditOptions, checkpointMessage } from '../src/index.js'
import {
  type AuditTestApp,
  allEntries,
  bearer,
  checkpointKeyPem,
  createAuditApp,
  createAuditDatabase,
  createTenant,
  migrationsDir,
  PASSWORD,
  signUp,
  sql,
} from './support/app.js'
import { projectRoutes } from './support/project-routes.js'

const DAY_MS = 86_400_000
let now = Date.parse('2031-01-01T00:00:00Z')
const clock = () => new Date(now)

let t: AuditTestApp
let alice: { userId: string; token: string }
let tenant: { id: string }
/** On the Pro plan: a year of retention. */
let proTenant: { id: string }

const as = (token: string) => ({ ...bearer(token), 'x-tenant-id': tenant.id })

async function addProjects(count: number) {
  for (let index = 0; index < count; index++) {
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(alice.token),
      payload: { name: `p-${now}-${index}` },
    })
    expect(response.statusCode).toBe(201)
  }
}

/** As a superuser would: triggers off for the session (`replica`), then any change. */
async function tamper(text: string, values: unknown[]): Promise<void> {
  const client = new pg.Client({ connectionString: t.db.owner.url })
  await client.connect()
  try {
    await client.query('SET session_replication_role = replica')
    await client.query(text, values)
  } finally {
    await client.end()
  }
}

const verifyOverHttp = async () => {
  const response = await t.app.inject({ url: '/audit/verify', headers: as(alice.token) })
  expect(response.statusCode).toBe(200)
  return response.json<{
    valid: boolean
    problem: { kind: string; seq: number; entryId: string | null; message: string } | null
    checkpoint: { seq: number } | null
  }>()
}

beforeAll(async () => {
  // No Redis: core's in-process job runner, driven by the same clock as the entries.
  t = await createAuditApp(
    { clock, retention: { everySeconds: 86_400, retentionDays: 30 } },
    { label: 'audit_integrity', redis: false, core: { jobs: { clock } }, routes: projectRoutes },
  )
  alice = await signUp(t, 'alice@integrity.test')
  tenant = await createTenant(t, alice.token, 'Alpha')
  await addProjects(6)
  proTenant = await createTenant(t, alice.token, 'Pro Co')
  await t.app.tenancy.tenants.setPlan(proTenant.id, 'pro')
  await t.app.audit.recordNow({
    action: 'project.created',
    tenantId: proTenant.id,
    metadata: { name: 'kept a year' },
  })
})

afterAll(async () => {
  await t?.close()
})

describe('tampering is detected by verify', () => {
  it('names the entry a superuser changed', async () => {
    expect(await verifyOverHttp()).toMatchObject({ valid: true, problem: null })
    const victim = (await allEntries(t)).find(
      (entry) => entry.tenant_id === tenant.id && entry.action === 'project.created',
    )
    if (!victim) throw new Error('no entry to change')
    const original = victim.metadata
    await tamper(`UPDATE audit_events SET metadata = '{"name":"innocent"}' WHERE id = $1`, [
      victim.id,
    ])
    expect(await verifyOverHttp()).toMatchObject({
      valid: false,
      problem: { kind: 'altered', seq: victim.seq, entryId: victim.id },
    })
    // Recomputing the entry's own hash does not help: the next entry still links to the old one.
    await tamper(`UPDATE audit_events SET metadata = $2::jsonb WHERE id = $1`, [
      victim.id,
      JSON.stringify(original),
    ])
    expect(await verifyOverHttp()).toMatchObject({ valid: true })
  })

  it('names the gap a deleted entry leaves, and a removed tail', async () => {
    const chain = (await allEntries(t)).filter((entry) => entry.tenant_id === tenant.id)
    const middle = chain[3]
    if (!middle) throw new Error('chain too short')
    await tamper('DELETE FROM audit_events WHERE id = $1', [middle.id])
    const report = await verifyOverHttp()
    expect(report).toMatchObject({ valid: false, problem: { kind: 'missing', seq: middle.seq } })
    expect(report.problem?.message).toContain(`entry ${middle.seq} is missing`)

    // Put it back (as it was), then drop the newest entry: the head still counts it.
    await tamper(
      `INSERT INTO audit_events SELECT * FROM json_populate_record(NULL::audit_events, $1::json)`,
      [JSON.stringify({ ...middle, occurred_at: middle.occurred_at.toISOString() })],
    )
    expect(await verifyOverHttp()).toMatchObject({ valid: true })
    const last = chain.at(-1)
    if (!last) throw new Error('chain too short')
    await tamper('DELETE FROM audit_events WHERE id = $1', [last.id])
    expect(await verifyOverHttp()).toMatchObject({
      valid: false,
      problem: { kind: 'truncated', seq: last.seq },
    })
    await tamper(
      `INSERT INTO audit_events SELECT * FROM json_populate_record(NULL::audit_events, $1::json)`,
      [JSON.stringify({ ...last, occurred_at: last.occurred_at.toISOString() })],
    )
    expect(await verifyOverHttp()).toMatchObject({ valid: true })
  })
})

describe('retention', () => {
  it('deletes what outlived the plan, leaves a signed checkpoint, and the rest still verifies', async () => {
    const before = (await allEntries(t)).filter((entry) => entry.tenant_id === tenant.id)
    now += 31 * DAY_MS
    await addProjects(2)
    const runs = await t.app.jobs.runDue()
    expect(runs).toContainEqual(
      expect.objectContaining({ name: 'audit.retention', status: 'completed' }),
    )

    const after = (await allEntries(t)).filter((entry) => entry.tenant_id === tenant.id)
    expect(after).toHaveLength(2)
    // The target filter's rows went with their entries.
    const targets = await sql<{ pos: string }>(
      t.db.owner.url,
      'SELECT pos::text AS pos FROM audit_event_targets WHERE tenant_id = $1',
      [tenant.id],
    )
    expect(new Set(targets.map((row) => row.pos))).toEqual(new Set(after.map((entry) => entry.pos)))
    // The Pro tenant keeps a year: nothing of its chain went, and it has no checkpoint.
    const pro = (await allEntries(t)).filter((entry) => entry.tenant_id === proTenant.id)
    expect(pro.map((entry) => entry.metadata.name)).toContain('kept a year')
    expect(pro[0]?.seq).toBe(1)
    expect(
      await sql(t.db.owner.url, 'SELECT 1 FROM audit_checkpoints WHERE tenant_id = $1', [
        proTenant.id,
      ]),
    ).toEqual([])
    const lastGone = before.at(-1)
    expect(after[0]?.seq).toBe((lastGone?.seq ?? 0) + 1)
    expect(after[0]?.prev_hash).toBe(lastGone?.hash)

    const report = await verifyOverHttp()
    expect(report).toMatchObject({ valid: true, checkpoint: { seq: lastGone?.seq } })

    // The checkpoint's signature checks out with the published key alone.
    const keys = await t.app.inject({ url: '/audit/checkpoint-keys', headers: as(alice.token) })
    expect(keys.statusCode).toBe(200)
    const published = keys.json<{ keys: Array<{ keyId: string; publicKeyPem: string }> }>().keys
    expect(published).toHaveLength(1)
    const [checkpoint] = await sql<{
      seq: number
      hash: string
      pruned_at: Date
      signature: string
      tenant_id: string
      key_id: string
    }>(t.db.owner.url, 'SELECT * FROM audit_checkpoints WHERE tenant_id = $1', [tenant.id])
    if (!checkpoint) throw new Error('no checkpoint')
    expect(checkpoint.key_id).toBe(published[0]?.keyId)
    const message = checkpointMessage({
      tenantId: checkpoint.tenant_id,
      seq: checkpoint.seq,
      hash: checkpoint.hash,
      prunedAt: checkpoint.pruned_at.toISOString(),
    })
    expect(
      verify(
        null,
        Buffer.from(message),
        published[0]?.publicKeyPem ?? '',
        Buffer.from(checkpoint.signature, 'base64url'),
      ),
    ).toBe(true)
  })

  it('refuses the app’s role a purge past the last checkpoint, and any checkpoint change', async () => {
    const entries = (await allEntries(t)).filter((entry) => entry.tenant_id === tenant.id)
    const purged = await sql<{ deleted: number }>(
      t.db.app.url,
      'SELECT acme_audit_purge($1::uuid, 1000) AS deleted',
      [tenant.id],
    )
    expect(purged[0]?.deleted).toBe(0)
    expect((await allEntries(t)).filter((entry) => entry.tenant_id === tenant.id)).toEqual(entries)
    await expect(
      sql(t.db.app.url, 'UPDATE audit_checkpoints SET seq = seq + 100'),
    ).rejects.toMatchObject({ code: '42501' })
  })

  it('reports a checkpoint whose signature does not hold', async () => {
    await tamper(`UPDATE audit_checkpoints SET signature = $2 WHERE tenant_id = $1`, [
      tenant.id,
      Buffer.alloc(64, 7).toString('base64url'),
    ])
    expect(await verifyOverHttp()).toMatchObject({
      valid: false,
      problem: { kind: 'checkpoint_invalid' },
    })
  })
})

describe('checkpoint key rotation', () => {
  it('still verifies checkpoints of a retired key listed in retiredCheckpointKeys', async () => {
    const database = await createAuditDatabase('audit_rotation')
    const oldKey = checkpointKeyPem()
    const start = Date.parse('2032-01-01T00:00:00Z')
    let time = start
    const at = () => new Date(time)
    const boot = (options: Partial<AuditOptions>) =>
      createAuditApp(
        { clock: at, ...options },
        { label: 'audit_rotation', redis: false, database, core: { jobs: { clock: at } } },
      )
    try {
      const first = await boot({ checkpointKey: oldKey })
      const carol = await signUp(first, 'carol@rotation.test')
      const tenantC = await createTenant(first, carol.token, 'Gamma')
      await waitForEntries(first, tenantC.id, 1)
      time += 31 * DAY_MS
      await first.app.audit.purge()
      await first.close()

      // The key is rotated: the old checkpoint names a key the new one cannot check.
      const newKey = checkpointKeyPem()
      const rotated = await boot({ checkpointKey: newKey })
      expect(await rotated.app.audit.verify(tenantC.id)).toMatchObject({
        valid: false,
        problem: { kind: 'checkpoint_invalid' },
      })
      await rotated.close()

      const retiredPublic = createPublicKey(oldKey)
        .export({ type: 'spki', format: 'pem' })
        .toString()
      const both = await boot({ checkpointKey: newKey, retiredCheckpointKeys: [retiredPublic] })
      expect(await both.app.audit.verify(tenantC.id)).toMatchObject({ valid: true, problem: null })
      // This instance signs tokens with keys of its own: sign in again.
      const login = await both.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: 'carol@rotation.test', password: PASSWORD },
      })
      const listed = await both.app.inject({
        url: '/audit/checkpoint-keys',
        headers: {
          ...bearer(login.json<{ accessToken: string }>().accessToken),
          'x-tenant-id': tenantC.id,
        },
      })
      expect(listed.statusCode).toBe(200)
      expect(
        listed.json<{ keys: Array<{ current: boolean }> }>().keys.map((k) => k.current),
      ).toEqual([true, false])
      await both.close()
    } finally {
      await database.drop()
    }
  })
})

async function waitForEntries(app: AuditTestApp, tenantId: string, count: number) {
  await waitFor(
    async () =>
      (await allEntries(app)).filter((entry) => entry.tenant_id === tenantId).length >= count,
  )
}

/**
 * As in production: the tables belong to a migration owner that is no superuser, so forced
 * row-level security binds it too, and only the owner's functions reach every chain.
 */
async function createNonSuperuserOwnedDatabase(): Promise<AppRoleDatabase> {
  const suffix = randomBytes(5).toString('hex')
  const name = `audit_owned_${suffix}`
  const owner = `acme_owner_${suffix}`
  const role = `acme_app_${suffix}`
  const ownerPassword = randomBytes(12).toString('hex')
  const appPassword = randomBytes(12).toString('hex')
  await sql(
    TEST_DATABASE_URL,
    `CREATE ROLE "${owner}" LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE PASSWORD '${ownerPassword}'`,
  )
  await sql(TEST_DATABASE_URL, `CREATE DATABASE "${name}" OWNER "${owner}"`)
  const ownerUrl = new URL(TEST_DATABASE_URL)
  ownerUrl.pathname = `/${name}`
  ownerUrl.username = owner
  ownerUrl.password = ownerPassword
  await migrateApply({ migrationsDir, target: { url: ownerUrl.toString() } })
  await ensureAppRole({ url: ownerUrl.toString(), role, password: appPassword })
  const appUrl = new URL(ownerUrl)
  appUrl.username = role
  appUrl.password = appPassword
  return {
    owner: { name, url: ownerUrl.toString(), drop: async () => undefined },
    app: { name, url: appUrl.toString(), drop: async () => undefined },
    role,
    async drop() {
      await sql(TEST_DATABASE_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      await sql(TEST_DATABASE_URL, `DROP ROLE IF EXISTS "${role}"`)
      await sql(TEST_DATABASE_URL, `DROP ROLE IF EXISTS "${owner}"`)
    },
  }
}

describe('with a migration owner that is no superuser', () => {
  it('records, purges through the owner’s functions, verifies, and still refuses the app role', async () => {
    const database = await createNonSuperuserOwnedDatabase()
    let time = Date.parse('2033-01-01T00:00:00Z')
    const at = () => new Date(time)
    try {
      const owned = await createAuditApp(
        { clock: at },
        {
          label: 'audit_owned',
          redis: false,
          database,
          core: { jobs: { clock: at } },
          routes: projectRoutes,
        },
      )
      try {
        const dave = await signUp(owned, 'dave@owned.test')
        const tenantD = await createTenant(owned, dave.token, 'Delta')
        for (const name of ['one', 'two', 'three']) {
          const created = await owned.app.inject({
            method: 'POST',
            url: '/projects',
            headers: { ...bearer(dave.token), 'x-tenant-id': tenantD.id },
            payload: { name },
          })
          expect(created.statusCode).toBe(201)
        }
        // Read as a superuser: forced row-level security binds this owner too.
        const superUrl = new URL(TEST_DATABASE_URL)
        superUrl.pathname = `/${database.owner.name}`
        const entriesOfD = async () =>
          sql<{ seq: number }>(
            superUrl.toString(),
            'SELECT seq FROM audit_events WHERE tenant_id = $1 ORDER BY seq',
            [tenantD.id],
          )
        await waitFor(async () => (await entriesOfD()).length >= 4)
        const asOwner = await sql<{ n: number }>(
          database.owner.url,
          'SELECT count(*)::int AS n FROM audit_events WHERE tenant_id IS NOT NULL',
        )
        expect(asOwner[0]?.n).toBe(0)
        time += 31 * DAY_MS
        const purged = await owned.app.audit.purge()
        expect(purged.deleted).toBeGreaterThanOrEqual(4)
        expect(await entriesOfD()).toEqual([])
        expect(await owned.app.audit.verify(tenantD.id)).toMatchObject({
          valid: true,
          checkpoint: { seq: 4 },
        })
        await expect(
          sql(owned.db.app.url, "UPDATE audit_events SET action = 'forged'"),
        ).rejects.toMatchObject({ code: '42501' })
      } finally {
        await owned.close()
      }
    } finally {
      await database.drop()
    }
  })
})
