import type { DomainEvent } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { type ActionRegistry, diff } from './actions.js'
import type { BackgroundWriter } from './background-writer.js'
import { type JsonValue, toJson } from './canonical.js'
import { contentOf, targetsOf, tenantOf, userOf } from './event-entries.js'
import { originOf, type RequestDirectory } from './request-info.js'
import type { NewEntry } from './services/recorder.js'

/** Metadata of an event-sourced entry: the event's payload, credentials left out. */
const eventMetadata = z.record(z.string(), z.unknown())

export interface EventSubscriberOptions {
  actions: ActionRegistry
  requests: RequestDirectory
  writer: BackgroundWriter
  ignore: readonly string[]
}

/** The entry an event becomes: its action is the event's name, defined on first sight. */
function entryOf(event: DomainEvent, options: EventSubscriberOptions): NewEntry {
  const { actions } = options
  if (!actions.has(event.name)) actions.define({ name: event.name, metadata: eventMetadata })
  const payload = event.payload as Record<string, unknown>
  const origin = originOf(options.requests.current())
  // Without an authenticated caller (a login, a reset link) the event names who acted: its `by`,
  // else its user, unless the attempt failed. Outside a request only `by` counts (a suspended
  // user did not suspend themselves).
  if (origin.actor.type === 'anonymous' || origin.actor.type === 'system') {
    const actorId = userOf(event, origin.actor.type === 'anonymous')
    if (actorId) origin.actor = { type: 'user', id: actorId }
  }
  const { metadata, states } = contentOf(payload)
  const content = actions.check(event.name, { metadata, ...states })
  // A change the event describes with before and after gets its field diff, as record gives one.
  if (states) {
    content.changes = diff(toJson(states.before), toJson(states.after)) as unknown as JsonValue
  }
  return {
    action: event.name,
    content,
    targets: targetsOf(payload),
    origin: { ...origin, tenantId: tenantOf(event) },
  }
}

/** Every event of `app.events` (but the ignored) becomes one entry, with no code in its plugin. */
export function subscribeToEvents(app: FastifyInstance, options: EventSubscriberOptions): void {
  const ignored = new Set(options.ignore)
  app.events.onAny((event: DomainEvent) => {
    if (ignored.has(event.name)) return
    let entry: NewEntry
    try {
      entry = entryOf(event, options)
    } catch (error) {
      // An event name that is no action name, say: logged, and the emitter is not concerned.
      app.log.error({ err: error, event: event.name }, 'audit: event not recorded')
      return
    }
    // Awaited by emitters that wait; the writer keeps it for app.close() when they do not.
    return options.writer.write(entry)
  })
}
