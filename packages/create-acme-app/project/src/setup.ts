// The project's first run, which create-acme-app does after the install (`npm run setup`; safe to
// run again): builds the app once, which applies the pending migrations to the database `.env`
// names (the embedded one by default), and, when ACME_OPERATOR_EMAIL is set, creates the first
// operator account with the password in ACME_OPERATOR_PASSWORD. Never on the command line: a
// process's arguments are visible to every local user.
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { loadEnv } from './env.js'

/**
 * Creates the account, email already verified: the person installing the product owns it. With
 * one tenant (the starter tier) it also owns that tenant, or no one could administer it.
 */
async function createOperator(app: FastifyInstance, rawEmail: string, password: string) {
  // Stored as @acme/auth stores every address: trimmed and lower-cased.
  const email = rawEmail.trim().toLowerCase()
  const existing = await app.prisma.user.findUnique({ where: { email }, select: { id: true } })
  if (existing) return `An account for ${email} exists already: left as it is.`
  // The app's own password policy (length, common and breached passwords), then its hashing.
  await app.auth.passwords.check(password)
  const passwordHash = await app.auth.passwords.hash(password)
  const { id } = await app.prisma.user.create({
    data: { email, passwordHash, emailVerifiedAt: new Date() },
    select: { id: true },
  })
  if (app.tenancy.mode === 'single') {
    // The tenant list is not tenant-scoped; single mode created its one tenant at startup.
    const tenant = await app.tenancy.tenants.run({ tenantId: '' }, (tx) =>
      tx.tenant.findFirst({ select: { id: true, name: true }, orderBy: { createdAt: 'asc' } }),
    )
    if (tenant) {
      await app.tenancy.tenants.addMember(tenant.id, id, ['owner'])
      return `Created the operator account ${email}, owner of the tenant "${tenant.name}": it logs in with POST /auth/login.`
    }
  }
  return `Created the operator account ${email}: it logs in with POST /auth/login.`
}

async function setup(): Promise<void> {
  const env = loadEnv()
  // Warnings and errors only: the start-up lines belong to `npm start`.
  const app = await buildApp({ ...env, LOG_LEVEL: 'warn' })
  try {
    await app.ready()
    console.log('Migrations applied: the database is up to date.')
    const email = process.env.ACME_OPERATOR_EMAIL
    if (email)
      console.log(await createOperator(app, email, process.env.ACME_OPERATOR_PASSWORD ?? ''))
  } finally {
    await app.close()
  }
}

setup().catch((error: unknown) => {
  const code = (error as { code?: unknown }).code
  console.error(
    `setup failed: ${error instanceof Error ? error.message : String(error)}${typeof code === 'string' ? ` (${code})` : ''}`,
  )
  process.exitCode = 1
})
