import { createHash } from 'node:crypto'
import { waitFor } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AuditTestApp,
  allEntries,
  bearer,
  createAuditApp,
  createTenant,
  PASSWORD,
  signUp,
  untilLinked,
} from './support/app.js'
import { projectRoutes } from './support/project-routes.js'

let t: AuditTestApp
let alice: { userId: string; token: string }
let viewer: { userId: string; token: string }
let bob: { userId: string; token: string }
let tenantA: { id: string }
let tenantB: { id: string }

const inA = (token: string) => ({ ...bearer(token), 'x-tenant-id': tenantA.id })
const inB = (token: string) => ({ ...bearer(token), 'x-tenant-id': tenantB.id })

interface Listed {
  items: Array<{
    id: string
    seq: number
    action: string
    tenantId: string
    actor: { type: string; id: string | null }
    targets: Array<{ type: string; id: string }>
    metadata: Record<string, unknown>
    hash: string
    prevHash: string
  }>
  nextCursor: string | null
}

/** C0 control characters other than the line feed that separates lines. */
const controlCharacters = (text: string): number[] =>
  [...text].map((char) => char.charCodeAt(0)).filter((code) => code < 0x20 && code !== 0x0a)

async function createProject(token: string, name: string, tenant = tenantA) {
  const response = await t.app.inject({
    method: 'POST',
    url: '/projects',
    headers: { ...bearer(token), 'x-tenant-id': tenant.id },
    payload: { name },
  })
  expect(response.statusCode).toBe(201)
  return response.json<{ id: string }>()
}

beforeAll(async () => {
  t = await createAuditApp({}, { label: 'audit_routes', routes: projectRoutes })
  alice = await signUp(t, 'alice@routes.test')
  viewer = await signUp(t, 'viewer@routes.test')
  bob = await signUp(t, 'bob@routes.test')
  tenantA = await createTenant(t, alice.token, 'Alpha')
  tenantB = await createTenant(t, bob.token, 'Beta')
  await t.app.tenancy.tenants.addMember(tenantA.id, viewer.userId, ['viewer'])
  for (let index = 0; index < 7; index++)
    await createProject(alice.token, `=HYPERLINK("x")-${index}`)
  await createProject(bob.token, 'bob-secret-project', tenantB)
  // tenant.created is emitted without waiting: let both chains settle first.
  await waitFor(
    async () => (await allEntries(t)).filter((e) => e.action === 'tenant.created').length === 2,
  )
})

afterAll(async () => {
  await t?.close()
})

describe('GET /audit/events', () => {
  it('pages through the tenant’s entries newest first with an opaque cursor', async () => {
    await untilLinked(t)
    const seen: number[] = []
    let cursor: string | null = null
    do {
      const query: string = cursor ? `?limit=3&cursor=${cursor}` : '?limit=3'
      const response = await t.app.inject({
        url: `/audit/events${query}`,
        headers: inA(alice.token),
      })
      expect(response.statusCode).toBe(200)
      const page = response.json<Listed>()
      expect(page.items.length).toBeLessThanOrEqual(3)
      seen.push(...page.items.map((item) => item.seq))
      cursor = page.nextCursor
    } while (cursor)
    expect(seen).toEqual([...seen].sort((a, b) => b - a))
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => seen.length - i))
    expect(seen.length).toBeGreaterThanOrEqual(8)
  })

  it('filters by action, actor, target, time and free text', async () => {
    const list = async (query: string) => {
      const response = await t.app.inject({
        url: `/audit/events?${query}`,
        headers: inA(alice.token),
      })
      expect(response.statusCode).toBe(200)
      return response.json<Listed>().items
    }
    const created = await list('action=project.created&limit=100')
    expect(created).toHaveLength(7)
    expect(created.every((item) => item.action === 'project.created')).toBe(true)
    expect(await list(`actorId=${alice.userId}&action=project.created`)).toHaveLength(7)
    expect(await list(`actorId=${bob.userId}`)).toHaveLength(0)
    const target = created[0]?.targets[0]?.id ?? ''
    const byTarget = await list(`targetId=${target}`)
    expect(byTarget.map((item) => item.targets[0]?.id)).toEqual([target])
    // Case-insensitive, and a substring of the stored JSON text.
    expect(await list('q=hyperlink&limit=100')).toHaveLength(7)
    expect(await list('q=%29-3')).toHaveLength(1)
    expect(await list('q=100%25')).toHaveLength(0)
    expect(await list('from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z')).toHaveLength(0)
    expect((await list('from=2000-01-01T00:00:00Z&limit=100')).length).toBeGreaterThanOrEqual(8)
  })

  it('reads a bounded window per free-text page, and hands back a cursor to go on', async () => {
    // A second instance on the same database, reading 3 entries per free-text page.
    const narrow = await createAuditApp(
      { searchWindow: 3 },
      { label: 'audit_routes_search', database: t.db, routes: projectRoutes },
    )
    try {
      // Its own signing keys: alice signs in there.
      const login = await narrow.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: 'alice@routes.test', password: PASSWORD },
      })
      expect(login.statusCode).toBe(200)
      const token = login.json<{ accessToken: string }>().accessToken
      const found: string[] = []
      const sizes: number[] = []
      let cursor: string | null = null
      do {
        const query: string = cursor ? `&cursor=${cursor}` : ''
        const response = await narrow.app.inject({
          url: `/audit/events?q=hyperlink&limit=100${query}`,
          headers: inA(token),
        })
        expect(response.statusCode).toBe(200)
        const page = response.json<Listed>()
        found.push(...page.items.map((item) => item.id))
        sizes.push(page.items.length)
        cursor = page.nextCursor
      } while (cursor)
      // Every match once, over pages shorter than the limit that still had more to read.
      expect(found).toHaveLength(7)
      expect(new Set(found).size).toBe(7)
      expect(sizes.length).toBeGreaterThan(1)
    } finally {
      await narrow.close()
    }
  })

  it('answers bad input with a 400 problem and no rows', async () => {
    for (const query of [
      'cursor=not-a-cursor',
      `cursor=${Buffer.from('{"s":"1; DROP TABLE audit_events"}').toString('base64url')}`,
      'limit=1000',
      'from=yesterday',
      'from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z',
      'unknown=1',
      'q=%00x',
    ]) {
      const response = await t.app.inject({
        url: `/audit/events?${query}`,
        headers: inA(alice.token),
      })
      expect(response.statusCode, query).toBe(400)
      expect(response.headers['content-type']).toContain('application/problem+json')
      expect(response.json<{ code: string }>().code).toMatch(/^ACME_(AUDIT|CORE)_/)
    }
  })

  it('shows tenant A’s admin none of tenant B’s entries, whatever the filter (LOG-02)', async () => {
    const bobs = (await allEntries(t)).filter((entry) => entry.tenant_id === tenantB.id)
    expect(bobs.length).toBeGreaterThan(0)
    const mine = await t.app.inject({ url: '/audit/events?limit=100', headers: inA(alice.token) })
    const items = mine.json<Listed>().items
    expect(items.every((item) => item.tenantId === tenantA.id)).toBe(true)
    expect(mine.body).not.toContain('bob-secret-project')
    for (const entry of bobs) {
      const probe = await t.app.inject({
        url: `/audit/events?targetId=${entry.targets[0]?.id ?? entry.id}`,
        headers: inA(alice.token),
      })
      expect(probe.json<Listed>().items).toEqual([])
    }
    // Naming tenant B without being its member is refused before any audit query.
    const foreign = await t.app.inject({ url: '/audit/events', headers: inB(alice.token) })
    expect(foreign.statusCode).toBe(404)
  })

  it('refuses a viewer with 403 and records the refusal in the tenant’s chain', async () => {
    const before = (await allEntries(t)).filter((entry) => entry.action === 'access.denied').length
    const response = await t.app.inject({ url: '/audit/events', headers: inA(viewer.token) })
    expect(response.statusCode).toBe(403)
    let denied: Awaited<ReturnType<typeof allEntries>> = []
    await waitFor(async () => {
      denied = (await allEntries(t)).filter((entry) => entry.action === 'access.denied')
      return denied.length > before
    })
    expect(denied).toHaveLength(before + 1)
    expect(denied.at(-1)).toMatchObject({
      tenant_id: tenantA.id,
      actor: { type: 'user', id: viewer.userId },
      metadata: { method: 'GET', route: '/audit/events', status: 403 },
      ip: '127.0.0.1',
    })
  })

  it('records each successful read of a route that asks for it, and only those', async () => {
    const reads = async () =>
      (await allEntries(t)).filter((entry) => entry.action === 'data.read').length
    const before = await reads()
    const listed = await t.app.inject({ url: '/projects', headers: inA(alice.token) })
    expect(listed.statusCode).toBe(200)
    await waitFor(async () => (await reads()) > before)
    const entry = (await allEntries(t)).filter((row) => row.action === 'data.read').at(-1)
    expect(entry).toMatchObject({
      tenant_id: tenantA.id,
      actor: { type: 'user', id: alice.userId },
      metadata: { method: 'GET', route: '/projects', status: 200 },
    })
    // The audit log's own reads are not data reads.
    await t.app.inject({ url: '/audit/events', headers: inA(alice.token) })
    const refused = await t.app.inject({ url: '/projects', headers: inA(viewer.token) })
    expect(refused.statusCode).toBe(403)
    await waitFor(async () =>
      (await allEntries(t)).some(
        (row) =>
          row.action === 'access.denied' &&
          row.actor.id === viewer.userId &&
          row.metadata.route === '/projects',
      ),
    )
    expect(await reads()).toBe(before + 1)
  })

  it('lets an API key read with the audit:read scope, and refuses one without it', async () => {
    const keyWith = async (scopes: string[]) => {
      const created = await t.app.inject({
        method: 'POST',
        url: `/tenants/${tenantA.id}/api-keys`,
        headers: bearer(alice.token),
        payload: { name: `siem-${scopes.join('-') || 'none'}`, scopes },
      })
      expect(created.statusCode).toBe(201)
      return created.json<{ key: string }>().key
    }
    const reader = await keyWith(['audit:read'])
    const ok = await t.app.inject({
      url: '/audit/events',
      headers: { 'x-api-key': reader, 'x-tenant-id': tenantA.id },
    })
    expect(ok.statusCode).toBe(200)
    const other = await keyWith(['projects:write'])
    const refused = await t.app.inject({
      url: '/audit/events',
      headers: { 'x-api-key': other, 'x-tenant-id': tenantA.id },
    })
    expect(refused.statusCode).toBe(403)
  })
})

describe('GET /audit/verify and GET /audit/export', () => {
  it('verifies the chain in parts that join up', async () => {
    const whole = await t.app.inject({ url: '/audit/verify', headers: inA(alice.token) })
    expect(whole.statusCode).toBe(200)
    const report = whole.json<{ valid: boolean; checked: number; head: { seq: number } }>()
    expect(report).toMatchObject({ valid: true, problem: null, nextSeq: null })
    // The head is read first: entries recorded during the walk (a refusal above, written in
    // the background) are checked too.
    expect(report.checked).toBeGreaterThanOrEqual(report.head.seq)
    const part = await t.app.inject({ url: '/audit/verify?limit=3', headers: inA(alice.token) })
    expect(part.json()).toMatchObject({ valid: true, checked: 3, nextSeq: 4 })
    const rest = await t.app.inject({ url: '/audit/verify?fromSeq=4', headers: inA(alice.token) })
    expect(rest.json()).toMatchObject({ valid: true, fromSeq: 4, nextSeq: null })
    // Entries recorded since (a refusal above is written in the background) only add to it.
    expect(rest.json<{ checked: number }>().checked).toBeGreaterThanOrEqual(report.checked - 3)
  })

  it('exports JSON Lines a customer verifies offline with nothing but SHA-256', async () => {
    const response = await t.app.inject({ url: '/audit/export', headers: inA(alice.token) })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toContain('application/x-ndjson')
    const lines = response.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(lines.length).toBeGreaterThanOrEqual(8)
    expect(response.body).not.toContain('bob-secret-project')
    // The README's recipe, written independently of the package's code.
    const canonical = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value)
      if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
      const record = value as Record<string, unknown>
      return `{${Object.keys(record)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`)
        .join(',')}}`
    }
    const sha = (text: string) => createHash('sha256').update(text).digest('hex')
    let prev = '0'.repeat(64)
    for (const [index, line] of lines.entries()) {
      const { id: _id, seq, prevHash, hash, ...content } = line
      expect(seq).toBe(index + 1)
      expect(prevHash).toBe(prev)
      expect(sha(`${prev}|${seq}|${sha(canonical({ v: 1, ...content }))}`)).toBe(hash)
      prev = hash
    }
  })

  it('exports CSV with formula-like cells neutralised', async () => {
    const hostile = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: { ...inA(alice.token), 'user-agent': '=HYPERLINK("http://evil.test")' },
      payload: { name: 'csv' },
    })
    expect(hostile.statusCode).toBe(201)
    const response = await t.app.inject({
      url: '/audit/export?format=csv&action=project.created',
      headers: inA(alice.token),
    })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toContain('text/csv')
    const rows = response.body.trim().split('\r\n')
    expect(rows[0]).toBe(
      'seq,id,occurredAt,action,actionVersion,actor,targets,before,after,changes,metadata,ip,userAgent,requestId,prevHash,hash',
    )
    expect(rows).toHaveLength(9)
    expect(rows.at(-1)).toContain(`"'=HYPERLINK(""http://evil.test"")"`)
    for (const row of rows.slice(1)) expect(row).not.toMatch(/(^|,)"?[=+@-]/)
  })

  it('records each export once, with who asked, the format and the filters', async () => {
    const exports = async () => {
      const listed = await t.app.inject({
        url: '/audit/events?action=audit.exported',
        headers: inA(alice.token),
      })
      expect(listed.statusCode).toBe(200)
      return listed.json<{ items: Array<Record<string, unknown>> }>().items
    }
    const before = (await exports()).length
    const response = await t.app.inject({
      url: '/audit/export?format=csv&action=project.created',
      headers: inA(alice.token),
    })
    expect(response.statusCode).toBe(200)
    // Its own entry is not a project.created row: the filter holds for it too.
    expect(response.body).not.toContain('audit.exported')
    const entries = await exports()
    expect(entries).toHaveLength(before + 1)
    expect(entries[0]).toMatchObject({
      action: 'audit.exported',
      actor: { type: 'user', id: alice.userId },
      metadata: { format: 'csv', filters: { action: 'project.created' } },
      ip: expect.any(String),
      requestId: expect.any(String),
    })
  })

  it('keeps control characters of user input encoded: in entries, exports and log lines (LOG-02)', async () => {
    const forged = 'ua\u001b[31m\r\n{"level":30,"msg":"forged line"}\u0007'
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: { ...inA(alice.token), 'user-agent': forged },
      payload: { name: 'control' },
    })
    expect(response.statusCode).toBe(201)
    // Stored as sent: evidence is not rewritten.
    const entry = (await allEntries(t)).find((row) => row.user_agent === forged)
    expect(entry).toBeDefined()
    const exported = await t.app.inject({ url: '/audit/export', headers: inA(alice.token) })
    const lines = exported.body.trimEnd().split('\n')
    expect(lines.some((line) => JSON.parse(line).userAgent === forged)).toBe(true)
    expect(controlCharacters(exported.body)).toEqual([])
    // Every log line is one JSON document: nothing a client sends starts a line of its own.
    const raw = t.rawLogs()
    expect(controlCharacters(raw)).toEqual([])
    for (const line of raw.split('\n')) expect(() => JSON.parse(line)).not.toThrow()
    expect(t.logs.some((line) => line.msg === 'forged line')).toBe(false)
  })

  it('needs audit:export, which a viewer lacks', async () => {
    const response = await t.app.inject({ url: '/audit/export', headers: inA(viewer.token) })
    expect(response.statusCode).toBe(403)
  })
})
