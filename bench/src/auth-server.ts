// Child process: core + auth on an in-memory embedded PostgreSQL, migrated with acme's own
// migrations, so the auth benchmark needs no database server.
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import acmeAuth from '@acme/auth'
import { migrateApply } from '@acme/cli'
import acmeCore, { serverOptions } from '@acme/core'
import { PGlite } from '@electric-sql/pglite'
import Fastify from 'fastify'
import { PrismaPGlite } from 'pglite-prisma-adapter'
import { PrismaClient } from '../../packages/auth/src/generated/prisma/client.js'

const migrationsDir = fileURLToPath(
  new URL('../../packages/auth/prisma/migrations', import.meta.url),
)
const pglite = new PGlite()
await migrateApply({ migrationsDir, target: { pglite } })

const app = Fastify(serverOptions({ logger: false }))
await app.register(acmeCore, {
  brand: { name: 'Initech' },
  prisma: new PrismaClient({ adapter: new PrismaPGlite(pglite) }),
  mail: { transport: 'memory' },
  rateLimit: { max: 1_000_000_000 },
})
await app.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
const body = { id: '8d3c1c9e-3c1f-4a52-9f0e-2b8f6d1f4a11', name: 'Initech', plan: 'pro' }
app.get('/public', { config: { auth: 'public' } }, async () => body)
app.get('/private', { config: { auth: 'required' } }, async () => body)
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
process.on('disconnect', () => {
  app.close().then(() => process.exit(0))
})
