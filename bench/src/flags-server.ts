// Child process: core + auth + tenancy (scoped client, RLS off: this measures the flag, not
// isolation) + rbac + flags on an in-memory embedded PostgreSQL, with the same authenticated,
// tenant-scoped route unguarded and guarded by a flag the tenant's plan grants.
import acmeAuth from '@acme/auth'
import acmeRbac from '@acme/rbac'
import acmeTenancy from '@acme/tenancy'
import { PrismaClient } from '../../packages/flags/src/generated/prisma/client.js'
import acmeFlags from '../../packages/flags/src/index.js'
import { embeddedApp, serveToParent } from './embedded-app.js'
import { packageMigrations } from './package-migrations.js'

const plan = { requestsPerMinute: null, seats: null, storageBytes: null }
const app = await embeddedApp({ migrationsDir: await packageMigrations('flags'), PrismaClient })
await app.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
await app.register(acmeTenancy, {
  rls: false,
  rateLimit: { enabled: false },
  defaultPlan: 'enterprise',
  plans: {
    starter: { label: 'Starter', ...plan },
    enterprise: { label: 'Enterprise', ...plan, entitlements: ['beta-reports'] },
  },
})
await app.register(acmeRbac)
await app.register(acmeFlags, {
  flags: [{ key: 'beta-reports', type: 'boolean', defaultValue: false }],
  pollSeconds: 0,
  schedules: { enabled: false },
})
const body = { id: '8d3c1c9e-3c1f-4a52-9f0e-2b8f6d1f4a11', name: 'Q3', total: 1200 }
const config = { auth: 'required', tenant: 'required', permission: false } as const
app.get('/open', { config }, async () => body)
app.get('/guarded', { config: { ...config, flag: 'beta-reports' } }, async () => body)
await serveToParent(app)
