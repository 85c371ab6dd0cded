// Child process: core + auth + rbac (global roles, no tenancy) on an in-memory embedded
// PostgreSQL, with the same authenticated route unguarded and guarded by a permission.
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import acmeAuth from '@acme/auth'
import { migrateApply } from '@acme/cli'
import acmeCore, { serverOptions } from '@acme/core'
import acmeRbac from '@acme/rbac'
import { PGlite } from '@electric-sql/pglite'
import Fastify from 'fastify'
import { PrismaPGlite } from 'pglite-prisma-adapter'
import { PrismaClient } from '../../packages/rbac/src/generated/prisma/client.js'

const migrationsDir = fileURLToPath(
  new URL('../../packages/rbac/prisma/migrations', import.meta.url),
)
const pglite = new PGlite()
await migrateApply({ migrationsDir, target: { pglite } })

const app = Fastify(serverOptions({ logger: false }))
await app.register(acmeCore, {
  brand: { name: 'Initech' },
  prisma: new PrismaClient({ adapter: new PrismaPGlite(pglite) }),
  mail: { transport: 'memory' },
  rateLimit: false,
})
await app.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
await app.register(acmeRbac, {
  permissions: [{ name: 'reports:read', description: 'Read reports' }],
  systemRoles: [
    { name: 'owner', permissions: ['*'] },
    { name: 'reader', permissions: ['reports:read'] },
  ],
  defaultRoles: ['reader'],
})
const body = { id: '8d3c1c9e-3c1f-4a52-9f0e-2b8f6d1f4a11', name: 'Q3', total: 1200 }
app.get('/open', { config: { auth: 'required', permission: false } }, async () => body)
app.get('/guarded', { config: { auth: 'required', permission: 'reports:read' } }, async () => body)
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
process.on('disconnect', () => {
  app.close().then(() => process.exit(0))
})
