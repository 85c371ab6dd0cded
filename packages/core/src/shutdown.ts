import type { FastifyInstance } from 'fastify'

export interface ShutdownSettings {
  /** Hard deadline after which the process exits with code 1. */
  timeoutMs?: number
  signals?: NodeJS.Signals[]
}

/**
 * Closes the app on SIGTERM/SIGINT: stop accepting, let in-flight requests and running jobs
 * finish, close workers, queues, Redis and Prisma (core's onClose), then exit. A second signal
 * or the deadline forces the exit.
 */
export function closeOnSignals(app: FastifyInstance, settings: ShutdownSettings = {}): void {
  const { timeoutMs = 30_000, signals = ['SIGTERM', 'SIGINT'] } = settings
  let closing = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      app.log.error({ signal }, 'second signal during shutdown: exiting now')
      process.exit(1)
    }
    closing = true
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
