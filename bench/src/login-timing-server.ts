// Child process: core + auth on an embedded database with the brute-force limits raised, so a
// timing run can send hundreds of failed logins (the limits are tested elsewhere).
import { fileURLToPath } from 'node:url'
import acmeAuth from '@acme/auth'
import { PrismaClient } from '../../packages/auth/src/generated/prisma/client.js'
import { embeddedApp, serveToParent } from './embedded-app.js'

const app = await embeddedApp({
  migrationsDir: fileURLToPath(new URL('../../packages/auth/prisma/migrations', import.meta.url)),
  PrismaClient,
})
await app.register(acmeAuth, {
  jwt: { issuer: 'https://api.initech.test' },
  throttle: { accountMax: 1_000_000, accountHourlyCap: 1_000_000, ipMax: 1_000_000 },
})
await serveToParent(app)
