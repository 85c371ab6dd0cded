// Child process of audit-overhead.ts: core, auth, tenancy (row-level security), rbac and audit on
// the benchmark database as the app role, with four write routes that differ only in what the
// audit log adds, and the audit log's own read routes.
//   /projects/plain            request.db.project.create
//   /projects/plain-audited    the same, then app.audit.record(request.db, …): a statement more
//   /projects/tx               request.db.$transaction: the create alone
//   /projects/tx-audited       request.db.$transaction: the create and its entry, atomic
import type { AddressInfo } from 'node:net'
import acmeAudit from '@acme/audit'
import acmeAuth from '@acme/auth'
import acmeCore, { serverOptions } from '@acme/core'
import acmeRbac from '@acme/rbac'
import acmeTenancy from '@acme/tenancy'
import { PrismaPg } from '@prisma/adapter-pg'
import Fastify from 'fastify'
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
await app.register(acmeRbac)
await app.register(acmeAudit, { retention: { enabled: false } })
app.audit.defineAction({
  name: 'project.created',
  metadata: z.object({ name: z.string() }).strict(),
})

type Db = PrismaClient
const config = { auth: 'required', tenant: 'required' } as const
const columns = { id: true, name: true } as const
const create = (db: Pick<Db, 'project'>) =>
  // The scoped client writes the request's tenant whatever the data says.
  db.project.create({ data: { tenantId: '', name: 'bench' }, select: columns })
const entry = (project: { id: string; name: string }) => ({
  action: 'project.created' as const,
  targets: [{ type: 'project', id: project.id }],
  metadata: { name: project.name },
})

app.post('/projects/plain', { config }, async (request) => create(request.db as Db))
app.post('/projects/plain-audited', { config }, async (request) => {
  const db = request.db as Db
  const project = await create(db)
  await app.audit.record(db, entry(project))
  return project
})
app.post('/projects/tx', { config }, async (request) =>
  (request.db as Db).$transaction((tx) => create(tx)),
)
app.post('/projects/tx-audited', { config }, async (request) =>
  (request.db as Db).$transaction(async (tx) => {
    const project = await create(tx)
    await app.audit.record(tx, entry(project))
    return project
  }),
)

await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
process.on('message', (message) => {
  if ((message as { cpu?: boolean }).cpu) process.send?.({ cpu: process.cpuUsage() })
})
process.on('disconnect', () => {
  app.close().then(() => process.exit(0))
})
