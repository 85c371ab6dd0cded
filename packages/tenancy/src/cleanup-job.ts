import { type JobWhen, scheduleOnReady } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { InvitationCleanup } from './services/cleanup.js'

export const CLEANUP_JOB = 'tenancy.cleanup'

/**
 * `tenancy.cleanup`: scheduled at startup by every instance, run once per tick by one of them.
 * Not a tenant job (`defineJob`): it has no tenant of its own, and sets each tenant in turn.
 * The retention is read from this instance's options when it runs, so the payload is empty;
 * runs are idempotent.
 */
export function defineCleanupJob(
  app: FastifyInstance,
  options: { cleanup: InvitationCleanup; when: JobWhen | null },
): void {
  const handle = app.jobs.define({
    name: CLEANUP_JOB,
    schema: z.object({}).strict(),
    concurrency: 1,
    handler: async (_payload, context) => {
      const report = await options.cleanup.run()
      app.log.info({ job: CLEANUP_JOB, jobId: context.id, ...report }, 'tenancy cleanup done')
    },
  })
  scheduleOnReady(app, handle, options.when, '@acme/tenancy')
}
