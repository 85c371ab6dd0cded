// Child process: core + auth on an embedded database with the brute-force limits raised, so a
// timing run can send hundreds of failed logins (the limits are tested elsewhere).
import acmeAuth from '@acme/auth'
import { PrismaClient } from '../../packages/auth/src/generated/prisma/client.js'
import { embeddedApp, serveToParent } from './embedded-app.js'
import { packageMigrations } from './package-migrations.js'

const app = await embeddedApp({
  migrationsDir: await packageMigrations('auth'),
  PrismaClient,
})
await app.register(acmeAuth, {
  jwt: { issuer: 'https://api.initech.test' },
  throttle: { accountMax: 1_000_000, accountHourlyCap: 1_000_000, ipMax: 1_000_000 },
})
await serveToParent(app)
