import { type JobWhen, scheduleOnReady } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { Retention } from './services/retention.js'

export const RETENTION_JOB = 'audit.retention'

/**
 * `audit.retention`: scheduled at startup by every instance, run once per tick by one of them
 * (core's scheduled jobs). Its schedule is removed when retention is off or has no key.
 */
export function defineRetentionJob(
  app: FastifyInstance,
  retention: Retention | null,
  when: JobWhen | null,
): void {
  const handle = app.jobs.define({
    name: RETENTION_JOB,
    schema: z.object({}).strict(),
    concurrency: 1,
    handler: async (_payload, context) => {
      if (!retention) return
      const report = await retention.run()
      app.log.info({ job: RETENTION_JOB, jobId: context.id, ...report }, 'audit retention done')
    },
  })
  scheduleOnReady(app, handle, retention ? when : null, '@acme/audit')
}
