// Child process of audit-overhead.ts: core, auth, tenancy (row-level security), rbac and audit on
// the benchmark database as the app role, with four write routes that differ only in what the
// audit log adds, and the audit log's own read routes. Each write is the starter's kind of write
// (its POST /projects without the webhook): a permission, a zod-checked body and response, a
// tenant-scoped insert through request.db under row-level security.
//   /projects/plain            request.db.project.create
//   /projects/plain-audited    the same, then app.audit.record(request.db, …): a statement more
//   /projects/tx               request.db.$transaction: the create alone
//   /projects/tx-audited       request.db.$transaction: the create and its entry, atomic
//   /projects/tx-two           request.db.$transaction: the create and a second one, where the
//                              entry would be: what any one more statement costs, for comparison
//   /projects/tx-insert        request.db.$transaction: the create and the same entry as the
//                              parameterised INSERT with a CTE that `record` sent before
//                              acme_audit_append, for comparison
//   /projects/tx-function      the same entry through acme_audit_append, called as `record` calls
//                              it: the two statements side by side, nothing else different

import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import acmeAudit, { contentHash } from '@acme/audit'
import acmeAuth from '@acme/auth'
import acmeCore, { serverOptions } from '@acme/core'
import acmeRbac from '@acme/rbac'
import acmeTenancy from '@acme/tenancy'
import { PrismaPg } from '@prisma/adapter-pg'
import Fastify, { type FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { PrismaClient } from '../../packages/audit/src/generated/prisma/client.js'

declare module '@acme/audit' {
  interface AuditActions {
    'project.created': { name: string }
  }
}

const url = process.env.BENCH_APP_URL
if (!url) throw new Error('BENCH_APP_URL not set')
const prisma = new PrismaClient({
  adapter: new PrismaPg({ connectionString: url, max: Number(process.env.BENCH_POOL ?? 10) }),
})
const app = Fastify(serverOptions({ logger: false }))
await app.register(acmeCore, {
  brand: { name: 'Initech' },
  prisma,
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  redisKeyPrefix: `bench:audit:${process.pid}:`,
  mail: { transport: 'memory' },
  rateLimit: false,
})
await app.register(acmeAuth, {
  jwt: {
    issuer: 'https://api.initech.test',
    privateKeys: JSON.parse(process.env.BENCH_JWT_KEYS ?? '[]'),
  },
})
await app.register(acmeTenancy, { rateLimit: { enabled: false } })
await app.register(acmeRbac, {
  permissions: [
    { name: 'projects:write', description: 'Create projects.', grant: { admin: true } },
  ],
})
await app.register(acmeAudit, { retention: { enabled: false } })
app.audit.defineAction({
  name: 'project.created',
  metadata: z.object({ name: z.string() }).strict(),
})

type Db = PrismaClient
const config = { auth: 'required', tenant: 'required', permission: 'projects:write' } as const
const schema = {
  body: z.object({ name: z.string().trim().min(1).max(100) }).strict(),
  response: { 200: z.object({ id: z.uuid(), name: z.string(), createdAt: z.date() }) },
}
const columns = { id: true, name: true, createdAt: true } as const
const create = (db: Pick<Db, 'project'>, name: string) =>
  // The scoped client writes the request's tenant whatever the data says.
  db.project.create({ data: { tenantId: '', name }, select: columns })
const entry = (project: { id: string; name: string }) => ({
  action: 'project.created' as const,
  targets: [{ type: 'project', id: project.id }],
  metadata: { name: project.name },
})

const routes = app.withTypeProvider<ZodTypeProvider>()
routes.post('/projects/plain', { schema, config }, async (request) =>
  create(request.db as Db, request.body.name),
)
routes.post('/projects/plain-audited', { schema, config }, async (request) => {
  const db = request.db as Db
  const project = await create(db, request.body.name)
  await app.audit.record(db, entry(project))
  return project
})
routes.post('/projects/tx', { schema, config }, async (request) =>
  (request.db as Db).$transaction((tx) => create(tx, request.body.name)),
)
routes.post('/projects/tx-two', { schema, config }, async (request) =>
  (request.db as Db).$transaction(async (tx) => {
    const project = await create(tx, request.body.name)
    await create(tx, request.body.name)
    return project
  }),
)
// The statement `record` sent before acme_audit_append, with the same values.
const INSERT_WITH_CTE = `
WITH entry AS (
  INSERT INTO "audit_events" (
    "id", "tenant_id", "action", "action_version", "occurred_at", "actor_type", "actor_id",
    "actor", "targets", "before", "after", "changes", "metadata", "ip", "user_agent",
    "request_id", "content_hash")
  VALUES ($1::uuid, $2::uuid, $3::text, $4::int, $5::timestamptz, $6::text, $7::text,
    $8::jsonb, $9::jsonb, $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb, $15::text,
    $16::text, $17::text, $18::text)
  RETURNING "tenant_id", "pos"
)
INSERT INTO "audit_event_targets" ("tenant_id", "target_id", "pos")
SELECT DISTINCT entry."tenant_id", target."id", entry."pos"
FROM entry, jsonb_array_elements_text($10::jsonb) AS target("id")`
/** The entry of `project`, as `record` would store it, sent as `statement` in `tx`. */
async function appendDirectly(
  tx: Pick<Db, '$queryRawUnsafe' | '$executeRawUnsafe'>,
  request: FastifyRequest,
  project: { id: string; name: string },
  statement: 'insert' | 'function',
) {
  const { targets, metadata } = entry(project)
  const tenantId = (request as { tenant?: { id: string } | null }).tenant?.id ?? null
  const principal = request.principal
  const actor = {
    type: 'user',
    id: principal?.userId ?? null,
    sessionId: principal?.type === 'user' ? principal.sessionId : null,
  }
  const agent = request.headers['user-agent'] ?? null
  const content = {
    tenantId,
    action: 'project.created',
    actionVersion: 1,
    occurredAt: new Date().toISOString(),
    actor,
    targets,
    before: null,
    after: null,
    changes: null,
    metadata,
    ip: request.ip,
    userAgent: agent,
    requestId: request.id,
  }
  const head = [randomUUID(), tenantId, content.action, 1, content.occurredAt, actor.type, actor.id]
  const jsons = [JSON.stringify(actor), JSON.stringify(targets)]
  const tail = [null, null, null, JSON.stringify(metadata), content.ip, agent, content.requestId]
  if (statement === 'insert') {
    const ids = JSON.stringify(targets.map((target) => target.id))
    await tx.$queryRawUnsafe(INSERT_WITH_CTE, ...head, ...jsons, ids, ...tail, contentHash(content))
  } else {
    await tx.$executeRawUnsafe(APPEND_FUNCTION, ...head, ...jsons, ...tail, contentHash(content))
  }
}
const APPEND_FUNCTION = `SELECT "acme_audit_append"($1::uuid, $2::uuid, $3::text, $4::int,
  $5::timestamptz, $6::text, $7::text, $8::jsonb, $9::jsonb, $10::jsonb, $11::jsonb, $12::jsonb,
  $13::jsonb, $14::text, $15::text, $16::text, $17::text)`
routes.post('/projects/tx-insert', { schema, config }, async (request) =>
  (request.db as Db).$transaction(async (tx) => {
    const project = await create(tx, request.body.name)
    await appendDirectly(tx, request, project, 'insert')
    return project
  }),
)
routes.post('/projects/tx-function', { schema, config }, async (request) =>
  (request.db as Db).$transaction(async (tx) => {
    const project = await create(tx, request.body.name)
    await appendDirectly(tx, request, project, 'function')
    return project
  }),
)
routes.post('/projects/tx-audited', { schema, config }, async (request) =>
  (request.db as Db).$transaction(async (tx) => {
    const project = await create(tx, request.body.name)
    await app.audit.record(tx, entry(project))
    return project
  }),
)

await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
// Round trips (Sync messages, and simple queries such as Prisma's COMMIT) and statements (Execute
// messages, simple queries) this process sends, counted on the node-postgres that the Prisma
// adapter uses: the parent divides them by the requests.
const adapterPg = createRequire(import.meta.resolve('@prisma/adapter-pg'))('pg') as {
  Connection: { prototype: Record<'sync' | 'execute' | 'query', (...args: unknown[]) => unknown> }
}
const sent = { syncs: 0, executes: 0 }
const wire = adapterPg.Connection.prototype
const { sync, execute, query } = wire
wire.query = function (this: unknown, ...args: unknown[]) {
  sent.syncs += 1
  sent.executes += 1
  return query.apply(this, args)
}
wire.sync = function (this: unknown, ...args: unknown[]) {
  sent.syncs += 1
  return sync.apply(this, args)
}
wire.execute = function (this: unknown, ...args: unknown[]) {
  sent.executes += 1
  return execute.apply(this, args)
}

// The parent asks for this process's CPU time around each measurement, and (BENCH_CPU_PROF) for a
// CPU profile of exactly the measured window.
const inspector = new Session()
process.on('message', async (message) => {
  const ask = message as { cpu?: boolean; profile?: 'start' | 'stop'; file?: string }
  if (ask.cpu) process.send?.({ cpu: process.cpuUsage(), sent: { ...sent } })
  if (ask.profile === 'start') {
    inspector.connect()
    await inspector.post('Profiler.enable')
    await inspector.post('Profiler.start')
    process.send?.({ profiling: true })
  } else if (ask.profile === 'stop' && ask.file) {
    const { profile } = await inspector.post('Profiler.stop')
    inspector.disconnect()
    await writeFile(ask.file, JSON.stringify(profile))
    process.send?.({ profiled: true })
  }
})
process.on('disconnect', () => {
  app.close().then(() => process.exit(0))
})
