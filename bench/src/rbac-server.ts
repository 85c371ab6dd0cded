// Child process: core + auth + rbac (global roles, no tenancy) on an in-memory embedded
// PostgreSQL, with the same authenticated route unguarded and guarded by a permission.
import acmeAuth from '@acme/auth'
import acmeRbac from '@acme/rbac'
import { PrismaClient } from '../../packages/rbac/src/generated/prisma/client.js'
import { embeddedApp, serveToParent } from './embedded-app.js'
import { packageMigrations } from './package-migrations.js'

const app = await embeddedApp({
  migrationsDir: await packageMigrations('rbac'),
  PrismaClient,
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
await serveToParent(app)
