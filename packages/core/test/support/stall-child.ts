// A worker process for the stalled-job test: takes `test.stalls` and never finishes it, saying so
// on stdout, until the test kills it with SIGKILL. With ENQUEUE=1 it enqueues the job first.
import { Redis } from 'ioredis'
import { z } from 'zod'
import { createBullmqRunner } from '../../src/jobs/bullmq-runner.js'
import type { Logger } from '../../src/logger.js'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }
const redis = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: null })
const runner = createBullmqRunner({
  redis,
  prefix: process.env.REDIS_PREFIX as string,
  settings: { concurrency: 1, attempts: 3, backoffMs: 20, keepFailed: 100 },
  logger: quiet,
})
const job = runner.define({
  name: 'test.stalls',
  schema: z.object({ n: z.number() }),
  stallAfterMs: Number(process.env.STALL_AFTER_MS),
  handler: async (_payload, context) => {
    process.stdout.write(`${JSON.stringify({ started: context.id })}\n`)
    await new Promise(() => {})
  },
})
if (process.env.ENQUEUE === '1') await job.enqueue({ n: 1 })
