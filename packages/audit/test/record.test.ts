import { waitFor } from '@acme/test-kit'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REDACTED } from '../src/index.js'
import {
  type AuditTestApp,
  allEntries,
  bearer,
  createAuditApp,
  createTenant,
  PASSWORD,
  signUp,
  sql,
  unlinkedCount,
  untilLinked,
} from './support/app.js'
import { projectRoutes } from './support/project-routes.js'

let t: AuditTestApp
let alice: { userId: string; token: string }
let tenant: { id: string }

const as = (token: string, extra: Record<string, string> = {}) => ({
  ...bearer(token),
  'x-tenant-id': tenant.id,
  ...extra,
})

beforeAll(async () => {
  t = await createAuditApp({}, { label: 'audit_record', routes: projectRoutes })
  alice = await signUp(t, 'alice@record.test')
  tenant = await createTenant(t, alice.token, 'Alpha')
})

afterAll(async () => {
  await t?.close()
})

const projectEntries = async () =>
  (await allEntries(t)).filter((entry) => entry.action.startsWith('project.'))

describe('app.audit.record in the caller’s transaction', () => {
  it('stores who, what, when, from where, in the tenant’s chain', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(alice.token, { 'user-agent': 'audit-test/1.0', 'x-request-id': 'req-record-1' }),
      payload: { name: 'Apollo' },
    })
    expect(response.statusCode).toBe(201)
    const projectId = response.json<{ id: string }>().id
    // Linked into the chain by the background linker once the request has answered.
    await untilLinked(t)
    const [entry] = await projectEntries()
    expect(entry).toMatchObject({
      tenant_id: tenant.id,
      action: 'project.created',
      actor: { type: 'user', id: alice.userId },
      targets: [{ type: 'project', id: projectId }],
      metadata: { name: 'Apollo' },
      ip: '127.0.0.1',
      user_agent: 'audit-test/1.0',
      request_id: 'req-record-1',
    })
    expect(entry?.actor.sessionId).toEqual(expect.any(String))
    expect(Math.abs(Date.now() - (entry?.occurred_at.getTime() ?? 0))).toBeLessThan(60_000)
    expect(entry?.hash).toMatch(/^[0-9a-f]{64}$/)
  })

  it('records an admin acting as the user as part of the actor', async () => {
    const admin = '7d1f5a3e-1111-4c4c-8888-000000000001'
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(alice.token, { 'x-test-impersonator': admin }),
      payload: { name: 'Impersonated' },
    })
    expect(response.statusCode).toBe(201)
    const entry = (await projectEntries()).find((row) => row.metadata.name === 'Impersonated')
    expect(entry?.actor).toMatchObject({ type: 'user', id: alice.userId, impersonatorId: admin })
  })

  it('rolls back with the caller’s transaction: no entry, no project, no gap in the chain', async () => {
    await untilLinked(t)
    const before = await projectEntries()
    const failed = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(alice.token),
      payload: { name: 'Doomed', fail: true },
    })
    expect(failed.statusCode).toBe(500)
    const projects = await sql(t.db.owner.url, 'SELECT name FROM projects WHERE name = $1', [
      'Doomed',
    ])
    expect(projects).toEqual([])
    expect(await projectEntries()).toEqual(before)

    const next = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(alice.token),
      payload: { name: 'Survivor' },
    })
    expect(next.statusCode).toBe(201)
    await untilLinked(t)
    const seqs = (await allEntries(t))
      .filter((entry) => entry.tenant_id === tenant.id)
      .map((entry) => entry.seq)
    expect(seqs).toEqual(seqs.map((_, index) => index + 1))
    expect((await t.app.audit.verify(tenant.id)).valid).toBe(true)
  })

  it('orders concurrent writers of one tenant into one chain without gaps or forks', async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        t.app.inject({
          method: 'POST',
          url: '/projects',
          headers: as(alice.token),
          payload: { name: `parallel-${index}` },
        }),
      ),
    )
    expect(responses.map((response) => response.statusCode)).toEqual(responses.map(() => 201))
    await untilLinked(t)
    const chain = (await allEntries(t)).filter((entry) => entry.tenant_id === tenant.id)
    expect(chain.map((entry) => entry.seq)).toEqual(chain.map((_, index) => index + 1))
    for (let index = 1; index < chain.length; index++) {
      expect(chain[index]?.prev_hash).toBe(chain[index - 1]?.hash)
    }
    const report = await t.app.audit.verify(tenant.id)
    expect(report).toMatchObject({ valid: true, problem: null, checked: chain.length })
  })

  it('records without waiting on the chain: a write goes through while a linker holds the head', async () => {
    await untilLinked(t)
    const lock = new pg.Client(t.db.owner.url)
    await lock.connect()
    try {
      await lock.query('BEGIN')
      const held = await lock.query(
        'SELECT seq FROM audit_chain_heads WHERE chain_key = $1 FOR UPDATE',
        [tenant.id],
      )
      expect(held.rowCount).toBe(1)
      const response = await t.app.inject({
        method: 'POST',
        url: '/projects',
        headers: as(alice.token),
        payload: { name: 'Unhindered' },
      })
      expect(response.statusCode).toBe(201)
      // Recorded and listed at once, its place in the chain still to come.
      const listed = await t.app.inject({ url: '/audit/events?limit=1', headers: as(alice.token) })
      expect(listed.json<{ items: unknown[] }>().items[0]).toMatchObject({
        action: 'project.created',
        metadata: { name: 'Unhindered' },
        seq: null,
        prevHash: null,
        hash: null,
      })
      expect(await unlinkedCount(t)).toBe(1)
      await lock.query('COMMIT')
    } finally {
      await lock.end()
    }
    await untilLinked(t)
    const entry = (await projectEntries()).find((row) => row.metadata.name === 'Unhindered')
    const chain = (await allEntries(t)).filter((row) => row.tenant_id === tenant.id)
    expect(entry?.seq).toBe(chain.length)
    expect(entry?.prev_hash).toBe(chain.at(-2)?.hash)
    expect((await t.app.audit.verify(tenant.id)).valid).toBe(true)
  })

  it('links entries in the order they commit: one recorded first but committed last comes last', async () => {
    await untilLinked(t)
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let recorded: () => void = () => undefined
    const didRecord = new Promise<void>((resolve) => {
      recorded = resolve
    })
    // A job's transaction records an entry and stays open while a request records and commits.
    const slow = t.app.prisma.$transaction(
      async (tx) => {
        await tx.$queryRawUnsafe("SELECT set_config('app.tenant_id', $1, true)", tenant.id)
        const entry = await t.app.audit.record(tx, {
          action: 'project.created',
          tenantId: tenant.id,
          metadata: { name: 'Recorded first' },
        })
        recorded()
        await held
        return entry
      },
      { timeout: 60_000 },
    )
    await didRecord
    const fast = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(alice.token),
      payload: { name: 'Committed first' },
    })
    expect(fast.statusCode).toBe(201)
    const named = async (name: string) =>
      (await projectEntries()).find((row) => row.metadata.name === name)
    // Linked while the earlier-recorded entry is still uncommitted (invisible to the linker).
    await waitFor(async () => Boolean((await named('Committed first'))?.seq))
    release()
    await slow
    await untilLinked(t)
    const first = await named('Recorded first')
    const second = await named('Committed first')
    expect(BigInt(first?.pos ?? 0)).toBeLessThan(BigInt(second?.pos ?? 0))
    expect(first?.seq).toBe((second?.seq ?? 0) + 1)
    expect(first?.prev_hash).toBe(second?.hash)
    const seqs = (await allEntries(t))
      .filter((entry) => entry.tenant_id === tenant.id)
      .map((entry) => entry.seq)
    expect(seqs).toEqual(seqs.map((_, index) => index + 1))
    expect((await t.app.audit.verify(tenant.id)).valid).toBe(true)
  })

  it('links an entry of a job’s own transaction, outside any request, through the sweep', async () => {
    const { id } = await t.app.audit.record(t.app.prisma, {
      action: 'project.created',
      tenantId: null,
      metadata: { name: 'From a job' },
    })
    const linked = await waitFor(async () => {
      const entry = (await allEntries(t)).find((row) => row.id === id)
      return entry?.seq ? entry : false
    })
    expect(linked).toMatchObject({ tenant_id: null, actor: { type: 'system', id: 'app' } })
    expect(linked.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(await t.app.audit.verify(null)).toMatchObject({ valid: true, pending: 0 })
  })

  it('records an API key as the actor, with the user who created it', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/api-keys`,
      headers: bearer(alice.token),
      payload: { name: 'ci', scopes: ['projects:write'] },
    })
    expect(created.statusCode).toBe(201)
    const { key, id: keyId } = created.json<{ key: string; id: string }>()
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: { 'x-api-key': key, 'x-tenant-id': tenant.id },
      payload: { name: 'From CI' },
    })
    expect(response.statusCode).toBe(201)
    const entry = (await projectEntries()).find((row) => row.metadata.name === 'From CI')
    expect(entry?.actor).toEqual({ type: 'api_key', id: keyId, creatorId: alice.userId })
  })

  it('stores a configuration change with its field diff, secrets redacted by the schema', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: as(alice.token),
      payload: { name: 'Configured' },
    })
    const id = created.json<{ id: string }>().id
    const put = (body: Record<string, unknown>) =>
      t.app.inject({
        method: 'PUT',
        url: `/projects/${id}/settings`,
        headers: as(alice.token),
        payload: body,
      })
    expect(
      (await put({ color: 'red', webhook: { url: 'https://a.test', secret: 'whsec_first' } }))
        .statusCode,
    ).toBe(204)
    expect(
      (await put({ color: 'red', webhook: { url: 'https://a.test', secret: 'whsec_second' } }))
        .statusCode,
    ).toBe(204)
    const changes = (await projectEntries()).filter((row) => row.action === 'project.configured')
    expect(changes).toHaveLength(2)
    expect(changes.map((row) => row.action_version)).toEqual([2, 2])
    expect(changes[0]).toMatchObject({
      before: { color: 'grey' },
      after: { color: 'red', webhook: { url: 'https://a.test', secret: REDACTED } },
      changes: [
        { path: '/color', before: 'grey', after: 'red' },
        { path: '/webhook', before: null, after: { url: 'https://a.test', secret: REDACTED } },
      ],
    })
    // Only the secret changed: recorded as a change, its values never stored.
    expect(changes[1]?.changes).toEqual([
      { path: '/webhook/secret', before: REDACTED, after: REDACTED },
    ])
    const stored = JSON.stringify(await allEntries(t))
    expect(stored).not.toContain('whsec_first')
    expect(stored).not.toContain('whsec_second')
    expect(t.rawLogs()).not.toContain('whsec_')
  })

  it('refuses an action never defined: a 500 that stores nothing', async () => {
    // Entries of the route's own kind: a tenant.created written in the background is not one.
    const recorded = async () =>
      (await allEntries(t)).filter((entry) => entry.action.startsWith('project.')).length
    const before = await recorded()
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects/undefined-action',
      headers: as(alice.token),
    })
    expect(response.statusCode).toBe(500)
    expect(response.json()).toMatchObject({ code: 'ACME_AUDIT_INVALID_ENTRY' })
    expect(response.body).not.toContain('project.vanished')
    expect(await recorded()).toBe(before)
  })
})

describe('when entries cannot be written', () => {
  it('fails the audited change with them, and never the request behind an event', async () => {
    // The database refuses the app's role any new entry (as a broken grant would).
    await sql(t.db.owner.url, `REVOKE INSERT ON audit_events FROM "${t.db.role}"`)
    try {
      const audited = await t.app.inject({
        method: 'POST',
        url: '/projects',
        headers: as(alice.token),
        payload: { name: 'Unaudited' },
      })
      expect(audited.statusCode).toBe(500)
      expect(
        await sql(t.db.owner.url, 'SELECT id FROM projects WHERE name = $1', ['Unaudited']),
      ).toEqual([])

      const login = await t.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: 'alice@record.test', password: PASSWORD },
      })
      expect(login.statusCode).toBe(200)
      const failures = () => t.logs.filter((line) => line.msg === 'audit: entry not recorded')
      await waitFor(() => failures().some((line) => line.action === 'user.logged_in'))
      expect(t.rawLogs()).not.toContain(PASSWORD)
      expect(t.rawLogs()).not.toContain(login.json<{ refreshToken: string }>().refreshToken)
    } finally {
      await sql(t.db.owner.url, `GRANT INSERT ON audit_events TO "${t.db.role}"`)
    }
    expect((await t.app.audit.verify(tenant.id)).valid).toBe(true)
  })
})

describe('the database keeps entries append-only and per tenant (LOG-02)', () => {
  it('refuses UPDATE and DELETE to the app’s role, even in its own tenant', async () => {
    const client = new pg.Client(t.db.app.url)
    await client.connect()
    try {
      await client.query('BEGIN')
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenant.id])
      const visible = await client.query('SELECT count(*)::int AS n FROM audit_events')
      expect(visible.rows[0].n).toBeGreaterThan(0)
      await expect(client.query("UPDATE audit_events SET action = 'forged'")).rejects.toMatchObject(
        { code: '42501' },
      )
      await client.query('ROLLBACK')
      await client.query('BEGIN')
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenant.id])
      await expect(client.query('DELETE FROM audit_events')).rejects.toMatchObject({
        code: '42501',
      })
      await client.query('ROLLBACK')
      await expect(client.query('TRUNCATE audit_events')).rejects.toMatchObject({
        code: '42501',
      })
    } finally {
      await client.end()
    }
    expect((await t.app.audit.verify(tenant.id)).valid).toBe(true)
  })

  it('lets no writer place an entry in the chain: the app’s role inserts it unlinked', async () => {
    const client = new pg.Client(t.db.app.url)
    await client.connect()
    try {
      await client.query('BEGIN')
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenant.id])
      await expect(
        client.query(
          `INSERT INTO audit_events (id, tenant_id, seq, action, action_version, occurred_at,
             actor_type, actor, targets, metadata, prev_hash, hash)
           VALUES (gen_random_uuid(), $1, 999, 'forged.entry', 1, now(), 'user', '{}', '[]',
             '{}', repeat('0', 64), repeat('0', 64))`,
          [tenant.id],
        ),
      ).rejects.toMatchObject({ code: '42501' })
      await client.query('ROLLBACK')
    } finally {
      await client.end()
    }
  })

  it('lets even the tables’ owner only link an entry, once, changing nothing else of it', async () => {
    await untilLinked(t)
    const [entry] = (await allEntries(t)).filter((row) => row.tenant_id === tenant.id)
    if (!entry) throw new Error('no entry')
    for (const change of ["action = 'forged'", 'seq = 999', "hash = repeat('1', 64)"]) {
      await expect(
        sql(t.db.owner.url, `UPDATE audit_events SET ${change} WHERE id = $1`, [entry.id]),
      ).rejects.toMatchObject({ code: '42501' })
    }
    expect((await t.app.audit.verify(tenant.id)).valid).toBe(true)
  })

  it('shows the app’s role no tenant’s entries or chain head while no tenant is set (TEN-02)', async () => {
    const client = new pg.Client(t.db.app.url)
    await client.connect()
    try {
      const entries = await client.query(
        'SELECT count(*)::int AS n FROM audit_events WHERE tenant_id IS NOT NULL',
      )
      const heads = await client.query(
        'SELECT count(*)::int AS n FROM audit_chain_heads WHERE tenant_id IS NOT NULL',
      )
      const checkpoints = await client.query(
        'SELECT count(*)::int AS n FROM audit_checkpoints WHERE tenant_id IS NOT NULL',
      )
      expect([entries.rows[0].n, heads.rows[0].n, checkpoints.rows[0].n]).toEqual([0, 0, 0])
    } finally {
      await client.end()
    }
    const owned = await sql<{ n: number }>(
      t.db.owner.url,
      'SELECT count(*)::int AS n FROM audit_chain_heads WHERE tenant_id IS NOT NULL',
    )
    expect(owned[0]?.n).toBeGreaterThan(0)
  })

  it('shows a tenant none of another tenant’s entries, and refuses writing into its chain', async () => {
    const bob = await signUp(t, 'bob@record.test')
    const other = await createTenant(t, bob.token, 'Beta')
    const client = new pg.Client(t.db.app.url)
    await client.connect()
    try {
      await client.query('BEGIN')
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [other.id])
      const seen = await client.query(
        'SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1',
        [tenant.id],
      )
      expect(seen.rows[0].n).toBe(0)
      await expect(
        client.query(
          `INSERT INTO audit_events (id, tenant_id, seq, action, action_version, occurred_at,
             actor_type, actor, targets, metadata, prev_hash, hash)
           VALUES (gen_random_uuid(), $1, 999, 'forged.entry', 1, now(), 'user', '{}', '[]',
             '{}', repeat('0', 64), repeat('0', 64))`,
          [tenant.id],
        ),
      ).rejects.toMatchObject({ code: '42501' })
      await client.query('ROLLBACK')
    } finally {
      await client.end()
    }
  })
})
