import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { acceptsConnections, freePort, isRunning, processTree, waitFor } from '@acme/test-kit'
import { createTestDatabase, type TestDatabase } from '@acme/test-support'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { errorLines, type RunningApp, startApp } from '../src/app-process.js'
import { userEnvironment } from '../src/environment.js'
import { notFromTarballs } from '../src/run-setup.js'
import { sharedTarballs } from '../src/shared-pack.js'
import { type CommandResult, runCommand } from '../src/shell.js'

// `npm create acme-app` as a new user runs it, from the packed packages and outside the
// workspace: create-acme-app installed from its tarball, run without a terminal, the project
// installed from the tarballs, set up (migrations, the first operator account), type-checked,
// started with `npm start`, logged in to as the operator, and stopped with SIGTERM. Twice: with
// the defaults (embedded PostgreSQL, pro) and with a PostgreSQL URL on the starter tier.
const root = fileURLToPath(new URL('../../..', import.meta.url))
const OPERATOR = { email: 'Ops@Globex.test', password: 'operator horse battery staple' }

const timings: string[] = []
let workdir = ''
/** A variant failed: its project stays for a look, and so does the folder holding it. */
let kept = false

/** A command in the user's shell; its output joins the failure message when it fails. */
async function run(
  command: string,
  cwd: string,
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<CommandResult> {
  const result = await runCommand(command, {
    cwd,
    env: { ...userEnvironment(root), ...env },
    timeoutMs,
  })
  timings.push(`${command.replace(workdir, '…')}: ${result.ms} ms`)
  const output = `${result.stdout}${result.stderr}`
  if (result.code !== 0) throw new Error(`\`${command}\` exited with ${result.code}:\n${output}`)
  return result
}

beforeAll(() => {
  workdir = mkdtempSync(join(tmpdir(), 'acme-create-app-'))
})

afterAll(() => {
  if (!kept && workdir) rmSync(workdir, { recursive: true, force: true })
  console.log(
    `create-acme-app on Node ${process.version}, step by step:\n  ${timings.join('\n  ')}`,
  )
})

const variants = [
  { name: 'the defaults: embedded PostgreSQL, pro', tier: 'pro', postgres: false },
  { name: 'a PostgreSQL URL, starter (one tenant)', tier: 'starter', postgres: true },
] as const

describe.each(variants)('npm create acme-app with $name, end to end', ({ tier, postgres }) => {
  let projectDir = ''
  let database: TestDatabase | undefined
  let app: RunningApp | undefined
  let failed = false
  let setupOutput = ''

  beforeAll(async () => {
    projectDir = join(workdir, `globex-${tier}`)
    if (postgres) database = await createTestDatabase({ label: 'acme_create_app' })
  })

  beforeEach((context) => {
    if (failed) context.skip('an earlier step failed')
  })

  afterEach((context) => {
    if (context.task.result?.state === 'fail') failed = true
  })

  afterAll(async () => {
    app?.kill()
    await database?.drop()
    if (failed) {
      kept = true
      console.log(`the project is kept for a look: ${projectDir}`)
    }
  })

  it('creates, installs and sets up a project without a terminal, taking no acme package from the registry', async () => {
    const tarballs = await sharedTarballs(root, inject('packDir'))
    const tarball = (name: string) => {
      const path = tarballs.get(name)
      if (!path) throw new Error(`${name} was not packed`)
      return path
    }
    // What `npm create acme-app` installs: create-acme-app and its one acme dependency.
    const tools = join(workdir, `tools-${tier}`)
    mkdirSync(tools)
    writeFileSync(join(tools, 'package.json'), '{ "private": true }\n')
    await run(`npm install ${tarball('create-acme-app')} ${tarball('@acme/cli')}`, tools, 300_000)

    const packagesDir = dirname(tarball('@acme/core'))
    const created = await run(
      `npm exec -- create-acme-app ${projectDir} --yes --brand Globex --tier ${tier} --operator ${OPERATOR.email} --packages ${packagesDir}${database ? ` --database ${database.url}` : ''}`,
      tools,
      600_000, // an npm install of the whole project with a cold cache, then the embedded database
      { ACME_OPERATOR_PASSWORD: OPERATOR.password },
    )
    setupOutput = `${created.stdout}${created.stderr}`
    expect(setupOutput).toContain('Migrations applied: the database is up to date.')
    expect(setupOutput).toContain(
      tier === 'starter'
        ? 'Created the operator account ops@globex.test, owner of the tenant "Default"'
        : 'Created the operator account ops@globex.test: it logs in',
    )
    expect(setupOutput).not.toContain(OPERATOR.password)
    expect(notFromTarballs(projectDir)).toEqual([])
    const env = readFileSync(join(projectDir, '.env'), 'utf8')
    expect(env).toContain('BRAND_NAME="Globex"')
    expect(env).not.toContain(OPERATOR.password)
    // The database the setup migrated is the one `npm start` opens: .env names it.
    expect(existsSync(join(projectDir, '.data', 'pglite'))).toBe(!postgres)
    if (database) expect(env).toContain(`DATABASE_URL=${database.url}`)
  }, 1_200_000)

  it('type-checks against the published types', async () => {
    await run('npm run typecheck', projectDir, 300_000)
  }, 360_000)

  it("setup refuses a password the app's policy refuses, and leaves an existing account as it is", async () => {
    const weak = await runCommand('npm run setup', {
      cwd: projectDir,
      env: {
        ...userEnvironment(root),
        ACME_OPERATOR_EMAIL: 'weak@globex.test',
        ACME_OPERATOR_PASSWORD: 'hunter2',
      },
      timeoutMs: 180_000,
    })
    const weakOutput = `${weak.stdout}${weak.stderr}`
    expect(weak.code, weakOutput).not.toBe(0)
    expect(weakOutput).toContain('setup failed: The password is too short')
    expect(weakOutput).not.toContain('hunter2')

    const again = await run('npm run setup', projectDir, 180_000, {
      ACME_OPERATOR_EMAIL: OPERATOR.email,
      ACME_OPERATOR_PASSWORD: 'another operator horse battery',
    })
    expect(again.stdout).toContain('An account for ops@globex.test exists already: left as it is.')
  }, 420_000)

  it('starts with npm start and is ready', async () => {
    const port = await freePort()
    app = await startApp({
      command: 'npm start',
      cwd: projectDir,
      env: { ...userEnvironment(root), PORT: `${port}` },
      readyUrl: `http://127.0.0.1:${port}/health/ready`,
      timeoutMs: 180_000,
    })
    // Setup applied every migration: this start found none pending.
    expect(app.output()).toContain('No pending migrations: the database is up to date.')
    expect(app.output()).not.toContain('Applying migration')
  }, 240_000)

  it('lets the operator log in at once, with the password given at creation and no other', async () => {
    const base = app?.baseUrl ?? ''
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ops@globex.test', password: OPERATOR.password }),
    })
    const tokens = (await login.json()) as { accessToken?: string }
    expect(login.status, JSON.stringify(tokens)).toBe(200)
    const me = await fetch(`${base}/auth/me`, {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ email: 'ops@globex.test', emailVerified: true })

    const wrong = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'ops@globex.test',
        password: 'another operator horse battery',
      }),
    })
    expect(wrong.status).toBe(401)

    // With one tenant the operator owns it: it may write the app's own tenant data.
    const created = await fetch(`${base}/projects`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${tokens.accessToken}`,
      },
      body: JSON.stringify({ name: 'Launch' }),
    })
    expect(created.status, await created.clone().text()).toBe(tier === 'starter' ? 201 : 400)
  })

  it('stops on SIGTERM to npm start: a graceful shutdown, the port closed, no process left', async () => {
    const running = app as RunningApp
    const port = Number(new URL(running.baseUrl).port)
    const tree = processTree(running.pid)
    expect(tree.length).toBeGreaterThan(1)
    await running.stop(60_000)
    await waitFor(() => tree.every((pid) => !isRunning(pid)), {
      timeoutMs: 60_000,
      intervalMs: 100,
    })
    expect(await acceptsConnections(port)).toBe(false)
    const output = running.output()
    expect(output).toContain('shutting down gracefully')
    expect(output).not.toContain('second signal during shutdown')
    expect(errorLines(output)).toEqual([])
  }, 120_000)
})
