import { createRequire } from 'node:module'
import { sleep, waitFor } from '@acme/test-kit'
import { TEST_REDIS_URL } from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { TenancyErrors, type TenantJobHandle } from '../src/index.js'
import {
  bearer,
  createTenancyApp,
  createTenant,
  signUp,
  type TenancyTestApp,
} from './support/app.js'
import { notesRoutes } from './support/notes-routes.js'

/** TEN-05: background work carries its tenant, runs scoped to it, and is refused without one. */

const JOB = 'tenancy-test.export'

declare module '@acme/core' {
  interface AcmeJobs {
    'tenancy-test.export': unknown
  }
}

const exportPayload = z.object({ label: z.string(), noteId: z.uuid().optional() }).strict()

/** The part of BullMQ's Queue the test uses (bullmq is core's dependency, not this package's). */
type QueueConstructor = new (
  name: string,
  options: { connection: Redis; prefix: string },
) => { add(name: string, data: unknown): Promise<{ id?: string }>; close(): Promise<void> }

interface Run {
  label: string
  tenantId: string
  setting: string | null
  titles: string[]
  /** What the job saw of the note its payload names (null: not found). */
  named: { id: string; tenantId: string } | null | undefined
}

/** A job as an app would write one: everything it reads and writes goes through `context.db`. */
function exportJobRoutes(
  runs: Run[],
  handle: { job?: TenantJobHandle<z.input<typeof exportPayload>> },
) {
  return async (app: FastifyInstance) => {
    await notesRoutes(app)
    handle.job = app.tenancy.defineJob({
      name: JOB,
      schema: exportPayload,
      attempts: 1,
      handler: async (payload, { db, tenantId }) => {
        const notes = await db.note.findMany({ orderBy: { title: 'asc' } })
        const setting = app.tenancy.rls
          ? ((
              await db.$queryRaw<Array<{ setting: string | null }>>`
                SELECT current_setting('app.tenant_id', true) AS setting`
            )[0]?.setting ?? null)
          : null
        const run: Run = {
          label: payload.label,
          tenantId,
          setting,
          titles: notes.map((note) => note.title),
          named: undefined,
        }
        runs.push(run)
        if (payload.noteId) {
          run.named = await db.note.findUnique({
            where: { id: payload.noteId },
            select: { id: true, tenantId: true },
          })
          // An export that marks what it exported: for another tenant's id this must not write.
          await db.note.update({ where: { id: payload.noteId }, data: { title: 'exported' } })
        }
      },
    })
    const routes = app.withTypeProvider()
    routes.post<{ Body: { label: string; noteId?: string } }>(
      '/exports',
      { config: { auth: 'required', tenant: 'required' } },
      async (request, reply) => {
        const job = handle.job
        if (!job) throw new Error('job not defined')
        return reply.code(202).send(await job.enqueue(request.body))
      },
    )
    routes.post<{ Body: { label: string; tenantId: string } }>(
      '/exports/for',
      { config: { auth: 'required', tenant: 'required' } },
      async (request, reply) => {
        const job = handle.job
        if (!job) throw new Error('job not defined')
        const { label, tenantId } = request.body
        return reply.code(202).send(await job.enqueue({ label }, { tenantId }))
      },
    )
    routes.post<{ Body: { label: string } }>(
      '/exports/untenanted',
      { config: { auth: 'required' } },
      async (request, reply) => {
        const job = handle.job
        if (!job) throw new Error('job not defined')
        return reply.code(202).send(await job.enqueue(request.body))
      },
    )
  }
}

async function ownerRows(t: TenancyTestApp) {
  const client = new pg.Client({ connectionString: t.db.owner.url })
  await client.connect()
  try {
    const { rows } = await client.query<{ id: string; tenant_id: string; title: string }>(
      'SELECT id, tenant_id, title FROM notes ORDER BY id',
    )
    return rows
  } finally {
    await client.end()
  }
}

describe.each([
  { runner: 'bullmq', redis: true },
  { runner: 'in-process', redis: false },
])('tenant jobs on the $runner runner', ({ runner, redis }) => {
  let t: TenancyTestApp
  const runs: Run[] = []
  const handle: { job?: TenantJobHandle<z.input<typeof exportPayload>> } = {}
  let a: { id: string; token: string }
  let b: { id: string; token: string }
  let bNote: { id: string }

  const as = (tenant: { id: string; token: string }) => ({
    ...bearer(tenant.token),
    'x-tenant-id': tenant.id,
  })
  const runsOf = (label: string) => runs.filter((run) => run.label === label)

  beforeAll(async () => {
    t = await createTenancyApp(
      {},
      { label: `jobs_${redis ? 'bull' : 'mem'}`, routes: exportJobRoutes(runs, handle), redis },
    )
    expect(t.app.jobs.mode).toBe(runner)
    for (const [name, assign] of [
      ['a', (v: { id: string; token: string }) => (a = v)],
      ['b', (v: { id: string; token: string }) => (b = v)],
    ] as const) {
      const user = await signUp(t, `${name}@jobs.test`)
      const tenant = await createTenant(t, user.token, `Jobs ${name}`)
      assign({ id: tenant.id, token: user.token })
      for (const title of [`${name}-1`, `${name}-2`]) {
        const created = await t.app.inject({
          method: 'POST',
          url: '/notes',
          headers: { ...bearer(user.token), 'x-tenant-id': tenant.id },
          payload: { title },
        })
        expect(created.statusCode).toBe(201)
        if (name === 'b') bNote = created.json()
      }
    }
  })

  afterAll(async () => {
    await t?.close()
  })

  it('runs a job enqueued from a request as tenant A scoped to A', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/exports',
      headers: as(a),
      payload: { label: 'from-request' },
    })
    expect(response.statusCode).toBe(202)
    const [run] = await waitFor(() => runsOf('from-request').length === 1 && runsOf('from-request'))
    expect(run).toMatchObject({ tenantId: a.id, titles: ['a-1', 'a-2'] })
    if (redis) expect(run?.setting).toBe(a.id)
  })

  it('gives a job for A that names a B note nothing to read or write, and fails it', async () => {
    const before = await ownerRows(t)
    const response = await t.app.inject({
      method: 'POST',
      url: '/exports',
      headers: as(a),
      payload: { label: 'cross', noteId: bNote.id },
    })
    expect(response.statusCode).toBe(202)
    const { id } = response.json<{ id: string }>()
    const [failed] = await waitFor(async () => {
      const jobs = (await t.app.jobs.failed(JOB)).filter((job) => job.id === id)
      return jobs.length === 1 && jobs
    })
    expect(failed?.failedReason).toBe(new TenancyErrors.NotFound().message)
    const [run] = runsOf('cross')
    expect(run).toMatchObject({ tenantId: a.id, titles: ['a-1', 'a-2'], named: null })
    expect(await ownerRows(t)).toEqual(before)
    expect((await ownerRows(t)).find((row) => row.id === bNote.id)?.title).toBe('b-2')
  })

  it('refuses to enqueue without a tenant, before anything is queued', async () => {
    const job = handle.job
    if (!job) throw new Error('job not defined')
    // Outside a request and without a tenantId.
    await expect(job.enqueue({ label: 'orphan' })).rejects.toBeInstanceOf(
      TenancyErrors.TenantRequired,
    )
    // From a request that names no tenant.
    const response = await t.app.inject({
      method: 'POST',
      url: '/exports/untenanted',
      headers: bearer(a.token),
      payload: { label: 'orphan' },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().code).toBe('ACME_TENANCY_TENANT_REQUIRED')
    // A tenant id that is not one is refused by the envelope's schema, at enqueue.
    await expect(
      job.enqueue({ label: 'orphan' }, { tenantId: 'not-a-uuid' }),
    ).rejects.toMatchObject({
      code: 'ACME_CORE_INVALID_JOB_PAYLOAD',
    })
    await sleep(300)
    expect(runsOf('orphan')).toEqual([])
    expect(await t.app.jobs.failed(JOB)).toHaveLength(1)
  })

  it('refuses, inside a request for A, a job for another tenant named by the caller', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/exports/for',
      headers: as(a),
      payload: { label: 'redirected', tenantId: b.id },
    })
    expect(response.statusCode).toBe(404)
    expect(response.json().code).toBe('ACME_TENANCY_TENANT_NOT_FOUND')
    const own = await t.app.inject({
      method: 'POST',
      url: '/exports/for',
      headers: as(a),
      payload: { label: 'same-tenant', tenantId: a.id },
    })
    expect(own.statusCode).toBe(202)
    await waitFor(() => runsOf('same-tenant').length === 1)
    await sleep(200)
    expect(runsOf('redirected')).toEqual([])
  })

  it('runs a job enqueued outside a request for the tenant it names', async () => {
    const job = handle.job
    if (!job) throw new Error('job not defined')
    await job.enqueue({ label: 'scheduled' }, { tenantId: b.id })
    const [run] = await waitFor(() => runsOf('scheduled').length === 1 && runsOf('scheduled'))
    expect(run).toMatchObject({ tenantId: b.id, titles: ['b-1', 'b-2'] })
  })

  it('rejects a payload without a tenant pushed through core’s raw enqueue', async () => {
    for (const payload of [
      { data: { label: 'raw' } },
      { label: 'raw' },
      { tenantId: a.id, data: { label: 'raw' }, extra: true },
      { tenantId: null, data: { label: 'raw' } },
    ]) {
      await expect(t.app.jobs.enqueue(JOB, payload)).rejects.toMatchObject({
        code: 'ACME_CORE_INVALID_JOB_PAYLOAD',
      })
    }
    await sleep(300)
    expect(runsOf('raw')).toEqual([])
  })

  // Only BullMQ has a queue another process can write to; the in-process runner has none.
  if (redis) {
    it('fails a job without a tenant that reached the queue anyway, without running the handler', async () => {
      // Written by something that skipped the app's enqueue (another service, an older release).
      const requireFromCore = createRequire(createRequire(import.meta.url).resolve('@acme/core'))
      const { Queue } = requireFromCore('bullmq') as { Queue: QueueConstructor }
      const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null })
      const queue = new Queue(JOB, {
        connection,
        prefix: `${t.redisPrefix}jobs`.replace(/:+$/, ''),
      })
      try {
        const added = await queue.add(JOB, { data: { label: 'smuggled' } })
        const failed = await waitFor(async () => {
          const jobs = (await t.app.jobs.failed(JOB)).filter((job) => job.id === added.id)
          return jobs.length === 1 && jobs[0]
        })
        expect(failed?.failedReason).toMatch(/invalid payload: tenantId/)
        expect(failed?.attemptsMade).toBe(1)
        expect(runsOf('smuggled')).toEqual([])
      } finally {
        await queue.close()
        await connection.quit()
      }
    })
  }
})
