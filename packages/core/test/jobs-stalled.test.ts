import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { waitFor } from '@acme/test-kit'
import { Redis } from 'ioredis'
import { build } from 'tsup'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createBullmqRunner } from '../src/jobs/bullmq-runner.js'
import type { JobRunner } from '../src/jobs/types.js'
import { type CapturingLogger, createCapturingLogger } from './support/capture-logger.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

/**
 * a job whose worker dies is taken over by another worker, and one that stalls too often
 * fails visibly. Real worker processes, killed with SIGKILL while they hold the job.
 */

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const childDir = `${packageDir}node_modules/.cache/jobs-stall-child`
const prefix = uniquePrefix('jobs_stalled')
const STALL_AFTER_MS = 1_000
const children: ChildProcess[] = []
let redis: Redis
let runner: JobRunner | undefined

beforeAll(async () => {
  // The child runs as plain Node: bundle it with its TypeScript sources, packages left external.
  await build({
    entry: { 'stall-child': 'test/support/stall-child.ts' },
    format: ['esm'],
    outDir: childDir,
    target: 'node20',
    silent: true,
    clean: true,
    external: ['bullmq', 'ioredis', 'zod'],
    config: false,
  })
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 2 })
})

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await runner?.close()
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

/** Starts a worker process; resolves once its handler holds the job, with the job's id. */
async function workerHoldingTheJob(
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; jobId: string }> {
  const child = spawn(process.execPath, [`${childDir}/stall-child.js`], {
    env: {
      ...process.env,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      STALL_AFTER_MS: String(STALL_AFTER_MS),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const [line] = (await once(lines, 'line')) as [string]
  const { started } = JSON.parse(line) as { started: string }
  return { child, jobId: started }
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  const [code, signal] = await exited
  expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' })
}

describe('a job whose worker dies', () => {
  it('is taken over by another worker, and fails visibly once it has stalled too often', async () => {
    // The first worker enqueues the job and takes it; the next takes it over, and dies too.
    const first = await workerHoldingTheJob({ ENQUEUE: '1' })
    await kill(first.child)
    const second = await workerHoldingTheJob()
    expect(second.jobId).toBe(first.jobId)
    await kill(second.child)

    const logger: CapturingLogger = createCapturingLogger()
    runner = createBullmqRunner({
      redis,
      prefix,
      settings: { concurrency: 1, attempts: 3, backoffMs: 20, keepFailed: 100 },
      logger,
    })
    const handled: number[] = []
    // The next worker does not run it a third time: it fails for good, logged and kept.
    runner.define({
      name: 'test.stalls',
      schema: z.object({ n: z.number() }),
      stallAfterMs: STALL_AFTER_MS,
      handler: async (payload) => {
        handled.push(payload.n)
      },
    })
    await waitFor(async () => (await runner?.failed('test.stalls'))?.length === 1, {
      timeoutMs: 20_000,
    })
    const [failed] = (await runner.failed('test.stalls')) ?? []
    expect(failed).toMatchObject({
      id: first.jobId,
      name: 'test.stalls',
      failedReason: 'job stalled more than allowable limit',
    })
    expect(handled).toEqual([])
    const logged = logger.lines.find((line) => line.object.jobId === first.jobId)
    expect(logged).toMatchObject({
      level: 'error',
      message: 'job failed for good; kept for inspection',
    })
  }, 60_000)
})
