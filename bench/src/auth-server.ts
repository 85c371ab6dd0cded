// Child process: core + auth on an in-memory embedded PostgreSQL, migrated with auth's merged
// schema, so the auth benchmark needs no database server.
import acmeAuth from '@acme/auth'
import { PrismaClient } from '../../packages/auth/src/generated/prisma/client.js'
import { embeddedApp, serveToParent } from './embedded-app.js'
import { packageMigrations } from './package-migrations.js'

const app = await embeddedApp({
  migrationsDir: await packageMigrations('auth'),
  PrismaClient,
  core: { rateLimit: { max: 1_000_000_000 } },
})
await app.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
const body = { id: '8d3c1c9e-3c1f-4a52-9f0e-2b8f6d1f4a11', name: 'Initech', plan: 'pro' }
app.get('/public', { config: { auth: 'public' } }, async () => body)
app.get('/private', { config: { auth: 'required' } }, async () => body)
await serveToParent(app)
