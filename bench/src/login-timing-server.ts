// Child process: core + auth on an embedded database with the brute-force limits raised, so a
// timing run can send hundreds of failed logins (the limits are tested elsewhere).
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
  rateLimit: false,
})
await app.register(acmeAuth, {
  jwt: { issuer: 'https://api.initech.test' },
  throttle: { accountMax: 1_000_000, accountHourlyCap: 1_000_000, ipMax: 1_000_000 },
})
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
process.on('disconnect', () => {
  app.close().then(() => process.exit(0))
})
