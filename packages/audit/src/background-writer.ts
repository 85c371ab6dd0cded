import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Linker } from './services/linker.js'
import type { NewEntry, Recorder } from './services/recorder.js'
import { inTenant, type TransactionalClient } from './sql.js'

/**
 * Writes the entries nobody awaits (from events and from the response hook), each in a
 * transaction of its own, linked into the chain once committed. A failure is logged and never
 * reaches the request that caused it; `idle()` (on `app.close()`) waits for the writes running.
 */
export class BackgroundWriter {
  readonly #prisma: TransactionalClient
  readonly #recorder: Recorder
  readonly #linker: Linker
  readonly #log: FastifyBaseLogger
  readonly #pending = new Set<Promise<void>>()

  constructor(
    app: FastifyInstance,
    prisma: TransactionalClient,
    recorder: Recorder,
    linker: Linker,
  ) {
    this.#prisma = prisma
    this.#recorder = recorder
    this.#linker = linker
    this.#log = app.log
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.#pending])
  }

  write(entry: NewEntry): Promise<void> {
    const work = inTenant(this.#prisma, entry.origin.tenantId, (tx) =>
      this.#recorder.append(tx, entry),
    ).then(
      () => this.#linker.soon(entry.origin.tenantId),
      (error: unknown) =>
        this.#log.error({ err: error, action: entry.action }, 'audit: entry not recorded'),
    )
    this.#pending.add(work)
    void work.finally(() => this.#pending.delete(work))
    return work
  }
}
