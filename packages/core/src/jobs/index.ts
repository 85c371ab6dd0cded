import type { RedisClient } from '../data/redis.js'
import type { Logger } from '../logger.js'
import { createBullmqRunner } from './bullmq-runner.js'
import { createInProcessRunner } from './in-process-runner.js'
import type { JobRunner, JobRunnerSettings } from './types.js'

export interface JobRunnerOptions {
  /** With Redis, jobs survive restarts and spread over instances; without, they run in memory. */
  redis: RedisClient | null
  prefix: string
  settings: JobRunnerSettings
  logger: Logger
}

export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const { redis, prefix, settings, logger } = options
  if (redis) return createBullmqRunner({ redis, prefix, settings, logger })
  return createInProcessRunner({ settings, logger })
}

export { createBullmqRunner } from './bullmq-runner.js'
export { createInProcessRunner } from './in-process-runner.js'
