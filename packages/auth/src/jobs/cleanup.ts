import { type JobWhen, scheduleOnReady } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { AuthCleanup } from '../services/cleanup.js'

export const CLEANUP_JOB = 'auth.cleanup'

export interface CleanupJobOptions {
  cleanup: AuthCleanup
  /** When to run, or null: not scheduled (and a schedule left from earlier is removed). */
  when: JobWhen | null
}

/**
 * `auth.cleanup`: scheduled at startup by every instance, run once per tick by one of them. The
 * retention is read from this instance's options when it runs, not from the schedule, so the
 * payload is empty. Runs are idempotent: a retry, or a run overlapping a slow one elsewhere,
 * deletes what is left (the batches skip rows another run holds).
 */
export function defineCleanupJob(app: FastifyInstance, options: CleanupJobOptions): void {
  const handle = app.jobs.define({
    name: CLEANUP_JOB,
    schema: z.object({}).strict(),
    concurrency: 1,
    handler: async (_payload, context) => {
      const deleted = await options.cleanup.run()
      app.log.info({ job: CLEANUP_JOB, jobId: context.id, deleted }, 'auth cleanup done')
    },
  })
  scheduleOnReady(app, handle, options.when, '@acme/auth')
}
