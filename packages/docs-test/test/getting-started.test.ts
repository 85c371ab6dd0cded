import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '@acme/test-kit'
import { createTestDatabase, type TestDatabase } from '@acme/test-support'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { errorLines, type RunningApp, startApp } from '../src/app-process.js'
import { userEnvironment } from '../src/environment.js'
import { HttpSession } from '../src/http-session.js'
import { appRoleOf, planOf } from '../src/plan.js'
import { notFromTarballs, runSetup } from '../src/run-setup.js'
import { sharedTarballs } from '../src/shared-pack.js'
import { extractSteps } from '../src/steps.js'
import { walkThrough } from '../src/walk-through.js'

// docs/getting-started.md, "Add acme to an existing Fastify app", done as a new user does it:
// the steps come from the page's docs-test markers (docs/testing.md), the packages from
// `pnpm pack`, the app lives outside the workspace, and each step needs the ones before it.
const root = fileURLToPath(new URL('../../..', import.meta.url))
const PAGE = 'docs/getting-started.md'
const plan = planOf(extractSteps(readFileSync(join(root, PAGE), 'utf8')))
/** The app role's password: the page has the reader put it in APP_DB_PASSWORD. */
const APP_DB_PASSWORD = 'docs-test-app-role'

const timings: string[] = []
const since = (started: number) => `${Math.round(performance.now() - started)} ms`
let workdir = ''
let appDir = ''
let database: TestDatabase | undefined
let captured: Record<string, string> = {}
let app: RunningApp | undefined
let failed = false

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'acme-docs-getting-started-'))
  appDir = join(workdir, 'my-app')
  mkdirSync(appDir)
  database = await createTestDatabase({ label: 'acme_docs' })
})

beforeEach((context) => {
  if (failed) context.skip('an earlier step of the page failed')
})

afterEach((context) => {
  if (context.task.result?.state === 'fail') failed = true
})

afterAll(async () => {
  const started = performance.now()
  app?.kill()
  await database?.drop()
  if (!failed && workdir) rmSync(workdir, { recursive: true, force: true })
  timings.push(`clean-up: ${since(started)}`)
  console.log(`${PAGE} on Node ${process.version}, step by step:\n  ${timings.join('\n  ')}`)
  if (failed) console.log(`the app is kept for a look: ${appDir}`)
})

describe(`${PAGE}, followed as written in an empty folder`, () => {
  it('sets up the app from the published packages: every file and command of the page', async () => {
    const started = performance.now()
    const tarballs = await sharedTarballs(root, inject('packDir'))
    timings.push(`pnpm pack of ${tarballs.size} packages (or waiting for it): ${since(started)}`)
    captured = await runSetup(plan.setup, {
      appDir,
      env: { ...userEnvironment(root), DATABASE_URL: database?.url ?? '', APP_DB_PASSWORD },
      tarballs,
      timeoutMs: 240_000, // an npm install with a cold cache
      onCommand: (line, result) => timings.push(`${line}: ${result.ms} ms`),
    })
    expect(notFromTarballs(appDir)).toEqual([])
    expect(Object.keys(captured)).toEqual(['JWT_PRIVATE_KEYS'])
  }, 480_000) // about 70 s with npm's cache warm; a cold cache on a busy machine takes longer

  it('starts as the app role with the key the page generated, on the port it is given', async () => {
    const url = new URL(database?.url ?? '')
    url.username = appRoleOf(plan)
    url.password = APP_DB_PASSWORD
    const port = await freePort()
    const started = performance.now()
    app = await startApp({
      command: plan.start.command,
      cwd: appDir,
      env: { ...userEnvironment(root), ...captured, DATABASE_URL: `${url}`, PORT: `${port}` },
      readyUrl: `http://127.0.0.1:${port}/health/ready`,
      timeoutMs: 120_000,
    })
    timings.push(`${plan.start.command} until /health/ready: ${since(started)}`)
  })

  it("answers the page's transcript: the owner writes a note, a viewer reads it and may not write", async () => {
    const session = new HttpSession(app?.baseUrl ?? '')
    const started = performance.now()
    const result = await walkThrough(session, appDir).catch((error: unknown) => {
      throw new Error(`${error}\nthe requests so far: ${JSON.stringify(session.transcript)}`)
    })
    timings.push(`the transcript's ${session.transcript.length} requests: ${since(started)}`)
    expect(session.transcript).toEqual(plan.transcript)
    const note = expect.objectContaining({ title: 'Welcome', tenantId: result.tenantId })
    expect(result.annNotes.body).toEqual([note])
    expect(result.bobNotes.body).toEqual([note])
  })

  it('exits with 0 on SIGTERM, having logged no error', async () => {
    const started = performance.now()
    const exit = await app?.stop(30_000)
    timings.push(`SIGTERM to exit: ${since(started)}`)
    const output = app?.output() ?? ''
    expect(exit, output).toEqual({ code: 0, signal: null })
    expect(output).toContain('shutting down gracefully')
    expect(errorLines(output)).toEqual([])
  })
})
