// Child process: one variant of a tenant-scoped read route, on the benchmark database.
//   none:   core + auth, the same query with an explicit tenant filter, as the table owner
//   scoped: core + auth + tenancy with rls: false (scoped client only), as the table owner
//   rls:    core + auth + tenancy with row-level security, as the unprivileged app role
import type { AddressInfo } from 'node:net'
import acmeAuth from '@acme/auth'
import acmeCore, { serverOptions } from '@acme/core'
import acmeTenancy from '@acme/tenancy'
import { PrismaPg } from '@prisma/adapter-pg'
import Fastify from 'fastify'
import { PrismaClient } from '../../packages/tenancy/src/generated/prisma/client.js'

const mode = process.env.BENCH_MODE as 'none' | 'scoped' | 'rls'
const url = mode === 'rls' ? process.env.BENCH_APP_URL : process.env.BENCH_OWNER_URL
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
if (mode === 'none') {
  app.get('/notes', { config: { auth: 'required' } }, async () => ({
    items: await prisma.note.findMany({ where: { tenantId }, select: noteColumns, ...page }),
  }))
} else {
  await app.register(acmeTenancy, { rls: mode === 'rls' })
  app.get('/notes', { config: { auth: 'required', tenant: 'required' } }, async (request) => ({
    items: await (request.db as unknown as PrismaClient).note.findMany({
      select: noteColumns,
      ...page,
    }),
  }))
}
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
process.on('disconnect', () => {
  app.close().then(() => process.exit(0))
})
