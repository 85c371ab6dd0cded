import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { NewEntry, Recorder } from './services/recorder.js'
import { inTenant, type TransactionalClient } from './sql.js'

/**
 * Writes the entries nobody awaits (from events and from the response hook), each in a
 * transaction of its own. A failure is logged and never reaches the request that caused it;
 * `app.close()` waits for the writes still running.
 */
export class BackgroundWriter {
  readonly #prisma: TransactionalClient
  readonly #recorder: Recorder
  readonly #log: FastifyBaseLogger
  readonly #pending = new Set<Promise<void>>()

  constructor(app: FastifyInstance, prisma: TransactionalClient, recorder: Recorder) {
    this.#prisma = prisma
    this.#recorder = recorder
    this.#log = app.log
    app.addHook('onClose', async () => {
      await Promise.allSettled([...this.#pending])
    })
  }

  write(entry: NewEntry): Promise<void> {
    const work = inTenant(this.#prisma, entry.origin.tenantId, (tx) =>
      this.#recorder.append(tx, entry),
    ).then(
      () => undefined,
      (error: unknown) =>
        this.#log.error({ err: error, action: entry.action }, 'audit: entry not recorded'),
    )
    this.#pending.add(work)
    void work.finally(() => this.#pending.delete(work))
    return work
  }
}
