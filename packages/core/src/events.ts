import { getRequestContext } from './context.js'
import type { Logger } from './logger.js'

/**
 * Registry of domain events; each plugin adds its own by module augmentation:
 * `declare module '@acme/core' { interface AcmeEvents { 'user.registered': { userId: string } } }`
 */
export interface AcmeEvents {}

export type EventName = keyof AcmeEvents & string

export interface DomainEvent<K extends EventName = EventName> {
  name: K
  payload: AcmeEvents[K]
  occurredAt: Date
  /** From the request context when emitted during a request. */
  requestId: string | null
  actorId: string | null
  tenantId: string | null
}

export type EventHandler<K extends EventName> = (event: DomainEvent<K>) => void | Promise<void>
type AnyEventHandler = (event: DomainEvent) => void | Promise<void>

/** `app.events`: in-process, typed, and isolated: one failing subscriber never fails the emitter. */
export class EventBus {
  readonly #handlers = new Map<string, Set<AnyEventHandler>>()
  readonly #anyHandlers = new Set<AnyEventHandler>()
  readonly #logger: Logger
  readonly #now: () => Date

  constructor(logger: Logger, now: () => Date = () => new Date()) {
    this.#logger = logger
    this.#now = now
  }

  /** Subscribes to one event; returns the unsubscribe function. */
  on<K extends EventName>(name: K, handler: EventHandler<K>): () => void {
    let handlers = this.#handlers.get(name)
    if (!handlers) {
      handlers = new Set()
      this.#handlers.set(name, handlers)
    }
    const stored = handler as AnyEventHandler
    handlers.add(stored)
    return () => handlers.delete(stored)
  }

  /** Subscribes to every event (audit, webhooks). */
  onAny(handler: AnyEventHandler): () => void {
    this.#anyHandlers.add(handler)
    return () => this.#anyHandlers.delete(handler)
  }

  /** Delivers to every subscriber and resolves when all have settled. */
  async emit<K extends EventName>(name: K, payload: AcmeEvents[K]): Promise<void> {
    const context = getRequestContext()
    const event: DomainEvent<K> = {
      name,
      payload,
      occurredAt: this.#now(),
      requestId: context?.requestId ?? null,
      actorId: context?.user?.id ?? null,
      tenantId: context?.tenant?.id ?? null,
    }
    const handlers = [...(this.#handlers.get(name) ?? []), ...this.#anyHandlers]
    const results = await Promise.allSettled(
      handlers.map(async (handler) => handler(event as DomainEvent)),
    )
    for (const result of results) {
      if (result.status === 'rejected') {
        this.#logger.error({ err: result.reason, event: name }, 'event subscriber failed')
      }
    }
  }
}
