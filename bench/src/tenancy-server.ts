// Child process: one variant of a tenant-scoped read route (20 notes) and write route (one note),
// on the benchmark database.
//   none:      core + auth, the same queries with an explicit tenant filter, as the table owner
//   scoped:    core + auth + tenancy with rls: false (scoped client only), as the table owner
//   statement: tenancy with row-level security (the default), as the unprivileged app role: each
//              statement sent with the tenant settings in one round trip
//   request:   tenancy with row-level security and transaction.scope 'request' (one interactive
//              transaction per request: BEGIN, set_config, the statements, COMMIT)
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import type { AddressInfo } from 'node:net'
import acmeAuth from '@acme/auth'
import acmeCore, { serverOptions } from '@acme/core'
import acmeTenancy from '@acme/tenancy'
import { PrismaPg } from '@prisma/adapter-pg'
import Fastify from 'fastify'
import { PrismaClient } from '../../packages/tenancy/src/generated/prisma/client.js'

export type TenancyVariant = 'none' | 'scoped' | 'statement' | 'request'

const variant = process.env.BENCH_MODE as TenancyVariant
const rls = variant === 'statement' || variant === 'request'
const url = rls ? process.env.BENCH_APP_URL : process.env.BENCH_OWNER_URL
const tenantId = process.env.BENCH_TENANT_ID ?? ''
if (!url) throw new Error('BENCH_APP_URL / BENCH_OWNER_URL not set')

const prisma = new PrismaClient({
  adapter: new PrismaPg({ connectionString: url, max: Number(process.env.BENCH_POOL ?? 10) }),
})
const app = Fastify(serverOptions({ logger: false }))
await app.register(acmeCore, {
  brand: { name: 'Initech' },
  prisma,
  mail: { transport: 'memory' },
  rateLimit: false,
})
await app.register(acmeAuth, {
  jwt: {
    issuer: 'https://api.initech.test',
    privateKeys: JSON.parse(process.env.BENCH_JWT_KEYS ?? '[]'),
  },
})
const page = { take: 20, orderBy: [{ createdAt: 'desc' as const }, { id: 'asc' as const }] }
const noteColumns = { id: true, title: true, createdAt: true }
if (variant === 'none') {
  const config = { auth: 'required' } as const
  app.get('/notes', { config }, async () => ({
    items: await prisma.note.findMany({ where: { tenantId }, select: noteColumns, ...page }),
  }))
  app.post('/notes', { config }, async () =>
    prisma.note.create({ data: { tenantId, title: 'bench' }, select: noteColumns }),
  )
} else {
  await app.register(acmeTenancy, {
    rls,
    rateLimit: { enabled: false },
    ...(variant === 'request' ? { transaction: { scope: 'request' } } : {}),
  })
  const config = { auth: 'required', tenant: 'required' } as const
  const db = (request: { db: unknown }) => request.db as PrismaClient
  app.get('/notes', { config }, async (request) => ({
    items: await db(request).note.findMany({ select: noteColumns, ...page }),
  }))
  app.post('/notes', { config }, async (request) =>
    // The scoped client writes the request's tenant whatever the data says.
    db(request).note.create({ data: { tenantId: '', title: 'bench' }, select: noteColumns }),
  )
}
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
// The parent asks for this process's CPU time around each measurement, and (BENCH_CPU_PROF) for a
// CPU profile of exactly the measured window.
const inspector = new Session()
process.on('message', async (message) => {
  const ask = message as { cpu?: boolean; profile?: 'start' | 'stop'; file?: string }
  if (ask.cpu) process.send?.({ cpu: process.cpuUsage() })
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
