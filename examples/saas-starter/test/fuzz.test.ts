/**
 * VAL-02: the app's own OpenAPI document drives a fuzzer (what Schemathesis would do, built
 * here): every operation, anonymous and as a tenant owner, gets valid bodies generated from its
 * schemas and then every field, body, path, query string and header made hostile. No response
 * may be a 5xx, an error that is not a problem document with a catalogue code, a leak (stack,
 * SQL, file path, hash, token) or slower than 5 s. Failures are collected, not stopped at.
 *
 * Operations that end sessions or delete rows run last, each on an owner of its own, restored
 * after every success (test/fuzz/destructive.ts). Three more checks: each rate limiter's 429, and
 * what Node's HTTP parser refuses before Fastify sees it (a real socket), are problem documents.
 *
 *   pnpm --filter saas-starter test -- test/fuzz.test.ts
 *   FUZZ_SEED=1234 pnpm --filter saas-starter test -- test/fuzz.test.ts
 *
 * The default seed is fixed; every run prints its counts and seed, and a failure says how to
 * replay it. About 10,700 requests, a minute on an idle 2-core machine.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import {
  captureLogStream,
  createTestDatabase,
  TEST_REDIS_URL,
  type TestDatabase,
} from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { loadEnv } from '../src/env.js'
import { InjectClient } from './fuzz/client.js'
import { DESTRUCTIVE } from './fuzz/destructive.js'
import { Fixtures } from './fuzz/fixtures.js'
import { type Operation, operationsOf } from './fuzz/openapi.js'
import { checkRateLimits } from './fuzz/rate-limits.js'
import { classTable, countsLine, distinctFailures, failureTable } from './fuzz/report.js'
import { type Failure, FuzzRunner } from './fuzz/runner.js'
import { checkOverTheWire } from './fuzz/wire.js'

const DEFAULT_SEED = 20_250_917
const SEED = parseSeed(process.env.FUZZ_SEED)
/** High enough that the fuzzer's clients (15 requests per address) never meet it by accident. */
const RATE_LIMIT_MAX = 300

function parseSeed(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_SEED
  const seed = Number(text)
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got "${text}"`)
  return seed
}

/** Keeps the server's error lines (by request id), to name the cause of each 5xx. */
function errorLog(causes: Map<string, string>): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line.includes('"level":5') && !line.includes('"level":6')) continue
        try {
          const entry = JSON.parse(line) as { reqId?: string; err?: LoggedError }
          if (entry.reqId) causes.set(entry.reqId, summarize(entry.err))
        } catch {
          // a partial line: ignore
        }
      }
      done()
    },
  })
}

interface LoggedError {
  code?: string
  message?: string
  meta?: { driverAdapterError?: { cause?: { originalCode?: string; originalMessage?: string } } }
}

/** What the server logged for a failed request: the error code and the database's own reason. */
function summarize(error: LoggedError | undefined): string {
  const database = error?.meta?.driverAdapterError?.cause
  const lines = (error?.message ?? '').split('\n').filter((line) => line.trim())
  const reason = database?.originalCode
    ? `${database.originalCode} ${database.originalMessage ?? ''}`
    : (lines.at(-1) ?? '')
  return [error?.code, reason.trim()].filter(Boolean).join(' ').slice(0, 120)
}

function failureReport(title: string, failures: Failure[]): string {
  const distinct = distinctFailures(failures)
  return [
    `${title}: ${failures.length} rule violations, ${distinct.length} distinct ` +
      `(seed ${SEED}; replay with FUZZ_SEED=${SEED})`,
    '',
    'by kind:',
    classTable(distinct),
    '',
    'every distinct failure:',
    failureTable(distinct),
  ].join('\n')
}

describe('VAL-02: every operation survives hostile input (OpenAPI-driven fuzzing)', () => {
  let app: FastifyInstance
  let database: TestDatabase
  let dataDir: string
  let client: InjectClient
  let fixtures: Fixtures
  let operations: Operation[]
  const causes = new Map<string, string>()

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'saas-starter-fuzz-'))
    database = await createTestDatabase({ label: 'starter_fuzz' })
    const env = loadEnv(
      {
        PGLITE_DATA_DIR: join(dataDir, 'pglite'),
        MAIL_DIR: join(dataDir, 'mail'),
        BRAND_NAME: 'Initech',
        PUBLIC_BASE_URL: 'https://api.initech.test',
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
        // The production default: the run's secret scan reads what a real server would log.
        LOG_LEVEL: 'info',
      },
      join(dataDir, 'no.env'),
    )
    app = await buildApp(env, { logStream: captureLogStream(errorLog(causes)) })
    await app.ready()
    client = new InjectClient(app)
    fixtures = new Fixtures(app, client)
    const document = await client.send({
      method: 'GET',
      url: '/docs/openapi.json',
      remoteAddress: client.newAddress(),
    })
    expect(document.status).toBe(200)
    operations = operationsOf(document.json() as Parameters<typeof operationsOf>[0])
  })

  afterAll(async () => {
    await app?.close()
    await database?.drop()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('reads every plugin’s operations from the app’s own document', () => {
    const keys = operations.map((operation) => operation.key)
    expect(keys).toEqual(
      expect.arrayContaining([
        'GET /health/ready',
        'POST /auth/login',
        'POST /tenants',
        'GET /rbac/roles',
        'POST /projects',
      ]),
    )
  })

  // About 1 min on an idle 2-core machine, 2.5 min while other suites share it (load 8).
  it('answers every generated variant of every operation without breaking a rule', async () => {
    const started = Date.now()
    const runner = new FuzzRunner(client, fixtures, {
      seed: SEED,
      minimum: 50,
      validSamples: 6,
      requestsPerAddress: 15,
      causeOf: (requestId) => causes.get(requestId),
    })
    // Operations that end sessions or delete rows run last, each on an owner of its own.
    const shared = operations.filter((operation) => !(operation.key in DESTRUCTIVE))
    const destructive = operations.filter((operation) => operation.key in DESTRUCTIVE)
    let owner = await fixtures.owner('shared')
    for (const operation of shared) owner = await runner.fuzz(operation, owner)
    for (const operation of destructive) {
      await runner.fuzz(operation, await fixtures.owner(operation.key), DESTRUCTIVE[operation.key])
    }

    const counts = countsLine({
      operations: operations.length,
      requests: client.requests,
      serverErrors: runner.serverErrors,
      failures: runner.failures.length,
      seed: SEED,
      seconds: (Date.now() - started) / 1000,
    })
    const slowest = [...runner.seconds]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([key, seconds]) => `${key} ${seconds.toFixed(1)} s`)
    console.log(`${counts}\nslowest operations: ${slowest.join(', ')}`)
    if (runner.failures.length > 0) {
      throw new Error(`${counts}\n${failureReport('fuzz', runner.failures)}`)
    }
  }, 420_000)

  it('answers 429 with a problem document from every rate limiter', async () => {
    const owner = await fixtures.owner('rate limits')
    const { failures, sent } = await checkRateLimits(client, fixtures, owner, RATE_LIMIT_MAX)
    console.log(
      `fuzz rate limits: 3 limiters, ${sent} requests, ${failures.length} rule violations`,
    )
    if (failures.length > 0) throw new Error(failureReport('rate limits', failures))
  }, 60_000)

  it('answers what Node’s HTTP parser refuses with a problem document too', async () => {
    const owner = await fixtures.owner('wire')
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const { failures, sent, answers } = await checkOverTheWire(
      port,
      fixtures.headers(owner),
      fixtures.secrets,
    )
    console.log(
      `fuzz over the wire: ${sent} raw requests, ${failures.length} rule violations\n  ${answers.join('\n  ')}`,
    )
    if (failures.length > 0) throw new Error(failureReport('over the wire', failures))
  }, 60_000)
})
