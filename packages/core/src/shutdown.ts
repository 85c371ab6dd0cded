import type { FastifyInstance } from 'fastify'
import { type Clock, systemClock } from './clock.js'

export interface ShutdownSettings {
  /** Hard deadline after which the process exits with code 1. */
  timeoutMs?: number
  signals?: NodeJS.Signals[]
  /**
   * A signal repeated within this many ms of the first is the same request to stop, delivered
   * twice: Ctrl-C signals the terminal's whole process group, and npm or pnpm pass it on to the
   * app as well. A later one forces the exit. Default 1000.
   */
  repeatWindowMs?: number
  clock?: Clock
}

/**
 * Closes the app on SIGTERM/SIGINT: stop accepting, let in-flight requests and running jobs
 * finish, close workers, queues, Redis and Prisma (core's onClose), then exit. A second signal
 * (after `repeatWindowMs`) or the deadline forces the exit.
 */
export function closeOnSignals(app: FastifyInstance, settings: ShutdownSettings = {}): void {
  const {
    timeoutMs = 30_000,
    signals = ['SIGTERM', 'SIGINT'],
    repeatWindowMs = 1_000,
    clock = systemClock,
  } = settings
  let closingSince: number | null = null
  const onSignal = (signal: NodeJS.Signals) => {
    if (closingSince !== null) {
      if (clock().getTime() - closingSince < repeatWindowMs) return
      app.log.error({ signal }, 'second signal during shutdown: exiting now')
      process.exit(1)
    }
    closingSince = clock().getTime()
    app.log.info({ signal, timeoutMs }, 'shutting down gracefully')
    const deadline = setTimeout(() => {
      app.log.error({ timeoutMs }, 'shutdown deadline passed: exiting')
      process.exit(1)
    }, timeoutMs)
    deadline.unref()
    app.close().then(
      () => {
        clearTimeout(deadline)
        process.exitCode = 0
      },
      (error: unknown) => {
        clearTimeout(deadline)
        app.log.error({ err: error }, 'shutdown failed')
        process.exitCode = 1
      },
    )
  }
  for (const signal of signals) process.on(signal, onSignal)
}
