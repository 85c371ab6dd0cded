import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import {
  captureLogStream,
  createTestDatabase,
  TEST_REDIS_URL,
  type TestDatabase,
} from '@acme/test-support'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { migrationsDir } from '../src/database.js'
import { loadEnv } from '../src/env.js'
import { ownerOfNewTenant } from './support/owner.js'

/** The migrations the starter ships, one folder each (a new plugin adds one). */
const migrationFolders = readdirSync(migrationsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()

const modes = [
  { name: 'embedded (no DATABASE_URL, no REDIS_URL)', real: false, checks: ['database', 'flags'] },
  {
    name: 'real PostgreSQL and Redis',
    real: true,
    checks: ['database', 'flags', 'queue', 'redis'],
  },
] as const

describe.each(modes)('the starter in $name mode', ({ real, checks }) => {
  let app: FastifyInstance
  let dataDir: string
  let database: TestDatabase | undefined
  const logLines: string[] = []

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'saas-starter-'))
    // A database of its own, empty: the starter must migrate it when it starts.
    database = real ? await createTestDatabase({ label: 'starter' }) : undefined
    const extra = database
      ? { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, RATE_LIMIT_MAX: '1000' }
      : {}
    const logStream = new PassThrough()
    logStream.on('data', (chunk: Buffer) => logLines.push(chunk.toString()))
    const env = loadEnv(
      {
        PGLITE_DATA_DIR: join(dataDir, 'pglite'),
        MAIL_DIR: join(dataDir, 'mail'),
        BRAND_NAME: 'Initech',
        PUBLIC_BASE_URL: 'https://api.initech.test',
        ...extra,
      },
      join(dataDir, 'no.env'),
    )
    app = await buildApp(env, { logStream: captureLogStream(logStream) })
    await app.ready()
  })

  afterAll(async () => {
    await app?.close()
    await database?.drop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('is ready, listing its checks', async () => {
    // Redis connects in the background after startup; readiness turns 200 once it has.
    let response = await app.inject({ method: 'GET', url: '/health/ready' })
    for (let tries = 0; response.statusCode !== 200 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      response = await app.inject({ method: 'GET', url: '/health/ready' })
    }
    expect(response.statusCode).toBe(200)
    expect(Object.keys(response.json().checks).sort()).toEqual([...checks])
  })

  it('serves the interactive docs and a valid OpenAPI 3.1 document', async () => {
    const docs = await app.inject({ method: 'GET', url: '/docs/' })
    expect(docs.statusCode).toBe(200)
    expect(docs.headers['content-type']).toContain('text/html')
    const document = (await app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()
    expect(document.openapi).toBe('3.1.0')
    expect((await new Validator().validate(document)).valid).toBe(true)
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/about', '/health/ready', '/health/live']),
    )
    // What a call needs is in the description, the part of an operation the docs UI shows.
    const create = document.paths['/projects'].post.description
    expect(create).toContain('- Sign-in: required.')
    expect(create).toContain('- Tenant: required;')
    expect(create).toContain('- Permission: `projects:write`.')
  })

  it('answers its own route with the brand', async () => {
    const response = await app.inject({ method: 'GET', url: '/about' })
    expect(response.json()).toEqual({
      name: 'Initech',
      docs: 'https://api.initech.test/docs',
      openapi: 'https://api.initech.test/docs/openapi.json',
    })
  })

  it('applied its migrations at startup, recorded as Prisma records them', async () => {
    const rows = await app.prisma.$queryRaw<Array<{ migration_name: string; finished: boolean }>>`
      SELECT migration_name, finished_at IS NOT NULL AS finished FROM _prisma_migrations`
    expect(rows.map((row) => row.finished)).not.toContain(false)
    expect(rows.map((row) => row.migration_name).sort()).toEqual(migrationFolders)
    expect(migrationFolders.map((name) => name.replace(/^\d+_/, ''))).toEqual(
      expect.arrayContaining([
        'init',
        'auth_session_tenant',
        'tenancy',
        'rbac',
        'audit',
        'flags',
        'webhooks',
      ]),
    )
  })

  it('keeps each tenant’s projects to itself, with a bounded page size', async () => {
    const signUp = (email: string) => ownerOfNewTenant(app, email, email.split('@')[1] ?? email)
    const acme = await signUp('owner@acme.test')
    const globex = await signUp('owner@globex.test')
    const created = await app.inject({
      method: 'POST',
      url: '/projects',
      headers: acme,
      payload: { name: 'Rocket' },
    })
    expect(created.statusCode).toBe(201)
    // The project's audit entry committed with it.
    const audited = await app.inject({
      method: 'GET',
      url: '/audit/events?action=project.created',
      headers: acme,
    })
    expect(audited.json().items).toEqual([
      expect.objectContaining({
        action: 'project.created',
        targets: [{ type: 'project', id: created.json().id }],
        metadata: { name: 'Rocket' },
      }),
    ])

    const mine = await app.inject({ method: 'GET', url: '/projects?limit=10', headers: acme })
    expect(mine.json().items.map((item: { name: string }) => item.name)).toEqual(['Rocket'])
    const theirs = await app.inject({ method: 'GET', url: '/projects', headers: globex })
    expect(theirs.json()).toEqual({ items: [], nextCursor: null })
    const crossing = await app.inject({
      method: 'GET',
      url: '/projects',
      headers: { ...globex, 'x-tenant-id': acme['x-tenant-id'] },
    })
    expect(crossing.statusCode).toBe(404)

    // AZ-02: a cursor taken from Globex's pages shows Acme none of Globex's rows.
    for (const name of ['Moon', 'Mars', 'Venus']) {
      await app.inject({ method: 'POST', url: '/projects', headers: globex, payload: { name } })
    }
    const globexNames = ['Moon', 'Mars', 'Venus']
    for (const list of ['/projects', '/audit/events']) {
      const page = await app.inject({ method: 'GET', url: `${list}?limit=1`, headers: globex })
      const cursor = page.json().nextCursor
      expect(cursor, list).toEqual(expect.any(String))
      const copied = await app.inject({
        method: 'GET',
        url: `${list}?limit=100&cursor=${encodeURIComponent(cursor)}`,
        headers: acme,
      })
      expect(copied.statusCode, list).toBeLessThan(500)
      for (const globexName of globexNames) expect(copied.body, list).not.toContain(globexName)
    }

    // A viewer of the tenant reads its projects but may not create one.
    const viewer = await signUp('viewer@viewer.test')
    const me = await app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: viewer.authorization },
    })
    await app.tenancy.tenants.addMember(acme['x-tenant-id'], me.json().id, ['viewer'])
    const asViewer = { authorization: viewer.authorization, 'x-tenant-id': acme['x-tenant-id'] }
    const viewed = await app.inject({ method: 'GET', url: '/projects', headers: asViewer })
    expect(viewed.json().items.map((item: { name: string }) => item.name)).toEqual(['Rocket'])
    const refused = await app.inject({
      method: 'POST',
      url: '/projects',
      headers: asViewer,
      payload: { name: 'Sneaky' },
    })
    expect(refused.statusCode).toBe(403)
    expect(refused.json()).toMatchObject({
      code: 'ACME_RBAC_FORBIDDEN',
      missing: ['projects:write'],
    })

    const anonymous = await app.inject({ method: 'GET', url: '/projects' })
    expect(anonymous.statusCode).toBe(401)
    const tooMany = await app.inject({ method: 'GET', url: '/projects?limit=1000', headers: acme })
    expect(tooMany.statusCode).toBe(400)
    const badCursor = await app.inject({
      method: 'GET',
      url: '/projects?cursor=1%27%20OR%201=1',
      headers: acme,
    })
    expect(badCursor.statusCode).toBe(400)
  })

  it('audits webhook configuration: an endpoint created, its secret rotated, once each', async () => {
    const owner = await ownerOfNewTenant(app, 'owner@hooks.test', 'Hooks')
    const endpoints = `/tenants/${owner['x-tenant-id']}/webhooks/endpoints`
    const created = await app.inject({
      method: 'POST',
      url: endpoints,
      headers: owner,
      payload: {
        url: 'https://hooks.example.com/in',
        headers: { authorization: 'Bearer receiver-credential' },
      },
    })
    expect(created.statusCode, created.body).toBe(201)
    const { id, secret } = created.json<{ id: string; secret: string }>()
    const rotated = await app.inject({
      method: 'POST',
      url: `${endpoints}/${id}/rotate-secret`,
      headers: owner,
    })
    expect(rotated.statusCode).toBe(200)
    const entries = async (action: string) => {
      const listed = await app.inject({ url: `/audit/events?action=${action}`, headers: owner })
      return listed.json<{ items: Array<Record<string, unknown>> }>().items
    }
    // Event entries are written in transactions of their own, right after the request's.
    await expect
      .poll(async () => (await entries('webhook.secret.rotated')).length, { timeout: 10_000 })
      .toBe(1)
    const [made] = await entries('webhook.endpoint.created')
    expect(made).toMatchObject({
      targets: expect.arrayContaining([{ type: 'webhook_endpoint', id }]),
      after: expect.objectContaining({ headers: ['authorization'] }),
    })
    const rotations = await entries('webhook.secret.rotated')
    expect(rotations).toHaveLength(1)
    expect(rotations[0]).toMatchObject({
      targets: expect.arrayContaining([{ type: 'webhook_endpoint', id }]),
    })
    const all =
      JSON.stringify(await entries('webhook.endpoint.created')) + JSON.stringify(rotations)
    expect(all).not.toContain('receiver-credential')
    expect(all).not.toContain(secret)
    expect(all).not.toContain(rotated.json<{ secret: string }>().secret)
  })

  it('works as a database role that row-level security applies to', async () => {
    const rows = await app.prisma.$queryRaw<
      Array<{ role: string; superuser: boolean; bypass: boolean }>
    >`
      SELECT current_user AS role, rolsuper AS superuser, rolbypassrls AS bypass
        FROM pg_roles WHERE rolname = current_user`
    expect(rows).toEqual([{ role: 'acme_app', superuser: false, bypass: false }])
    const visible = await app.prisma.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM projects`
    expect(visible).toEqual([{ n: 0 }])
  })

  it('shows the beta report to Enterprise tenants only, from the next request after a plan change', async () => {
    const headers = await ownerOfNewTenant(app, 'beta@reports.test', 'Beta')
    const hidden = await app.inject({ method: 'GET', url: '/reports/beta', headers })
    expect(hidden.statusCode).toBe(404)
    await app.tenancy.tenants.setPlan(headers['x-tenant-id'], 'enterprise')
    const shown = await app.inject({ method: 'GET', url: '/reports/beta', headers })
    expect(shown.statusCode).toBe(200)
    expect(shown.json()).toEqual({ projects: 0 })
  })

  it('registers, logs in, refreshes and reads the profile', async () => {
    const credentials = { email: 'ann@initech.test', password: 'correct horse battery' }
    const registered = await app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: credentials,
    })
    expect(registered.statusCode).toBe(202)
    const login = await app.inject({ method: 'POST', url: '/auth/login', payload: credentials })
    expect(login.statusCode).toBe(200)
    const refreshed = await app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken: login.json().refreshToken },
    })
    expect(refreshed.statusCode).toBe(200)
    const me = await app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${refreshed.json().accessToken}` },
    })
    expect(me.json()).toMatchObject({ email: 'ann@initech.test' })
  })

  it('compared its database with its migrations folder before it started', () => {
    const checked = logLines
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg?: string; applied?: number })
      .find((line) => line.msg === 'database schema matches the migrations folder')
    expect(checked?.applied).toBe(migrationFolders.length)
  })

  it('says that a first embedded start creates its database, before the slow step', () => {
    const text = logLines.join('')
    if (real) expect(text).not.toMatch(/embedded PostgreSQL in/u)
    else expect(text).toMatch(/creating the embedded PostgreSQL in .* \(first start only/u)
  })

  it('says which mode it runs in first, before migrations or plugins log anything', () => {
    const [first] = logLines.join('').split('\n')
    const banner = JSON.parse(first ?? '{}') as { msg?: string }
    expect(banner.msg).toMatch(
      real ? /running with PostgreSQL and Redis/ : /running in embedded mode/,
    )
  })
})
