import type { FastifyInstance } from 'fastify'
import { AcmeConfigError } from '../errors.js'
import type { JobHandle } from './types.js'

/** `{ every: ms } | { cron, tz }`, as `JobHandle.schedule` takes it. */
export type JobWhen = Parameters<JobHandle<unknown>['schedule']>[0]

/** How long startup waits for the queue before going on; the schedule then follows later. */
const STARTUP_WAIT_MS = 1_000
const RETRY_MS = 60_000

/**
 * Schedules `handle` at `onReady` (every instance at every start: the runner keeps one schedule
 * per job), the way a plugin ships a maintenance job, or removes its schedule when `when` is null, so turning a job off also stops the schedule
 * kept in Redis. A bad schedule fails startup; a job queue that cannot be reached does not: the
 * app starts (as core's workers do during a Redis outage), and this retries every minute.
 */
export function scheduleOnReady(
  app: FastifyInstance,
  handle: JobHandle<Record<string, never>>,
  when: JobWhen | null,
  owner: string,
): void {
  let retry: NodeJS.Timeout | undefined
  let closed = false

  const attempt = async (): Promise<void> => {
    try {
      if (when) await handle.schedule(when, {})
      else await handle.unschedule()
    } catch (error) {
      // Core refuses a bad interval, cron or time zone with a TypeError, before any I/O.
      if (error instanceof TypeError) throw new AcmeConfigError(owner, [error.message])
      if (closed) return
      app.log.warn(
        { err: error, job: handle.name },
        `${handle.name}: the job queue did not answer; scheduling again in ${RETRY_MS / 1_000} s`,
      )
      retry = setTimeout(() => {
        retry = undefined
        attempt().catch((failure: unknown) =>
          app.log.error({ err: failure, job: handle.name }, `${handle.name}: not scheduled`),
        )
      }, RETRY_MS)
      retry.unref()
    }
  }

  app.addHook('onReady', async () => {
    let timer: NodeJS.Timeout | undefined
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STARTUP_WAIT_MS)
    })
    try {
      // A config error rejects at once and fails startup; a slow queue only delays it this long.
      await Promise.race([attempt(), waited])
    } finally {
      clearTimeout(timer)
    }
  })
  app.addHook('onClose', async () => {
    closed = true
    clearTimeout(retry)
  })
}
