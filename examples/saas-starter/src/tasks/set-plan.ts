// Sets tenants' plan from the command line, the way a billing integration does from a process of
// its own: `npx tsx src/tasks/set-plan.ts <plan> <tenantId>...`. It reads the same environment as
// the server, so the change is broadcast to every running instance (their membership caches drop
// the tenant; the new plan's limits apply from their next request).
import { buildApp } from '../app.js'
import { loadEnv } from '../env.js'

const [plan, ...tenantIds] = process.argv.slice(2)
if (!plan || tenantIds.length === 0) {
  process.stderr.write('usage: set-plan <plan> <tenantId>...\n')
  process.exit(2)
}
const app = await buildApp({ ...loadEnv(), LOG_LEVEL: 'warn' })
try {
  await app.ready()
  for (const tenantId of tenantIds) {
    await app.tenancy.tenants.setPlan(tenantId, plan)
    process.stdout.write(`tenant ${tenantId} is now on plan ${plan}\n`)
  }
} finally {
  await app.close()
}
