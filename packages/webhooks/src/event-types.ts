import { z } from 'zod'

/** An event type tenants can subscribe their endpoints to. */
export interface EventTypeDefinition<S extends z.ZodType = z.ZodType> {
  /** Dotted, lower case: `invoice.paid`, `project.created`. */
  name: string
  description: string
  /** The payload's schema: `send` validates against it, the catalog publishes it as JSON Schema. */
  schema: S
}

export interface EventTypeInfo {
  name: string
  description: string
  schema: Record<string, unknown>
}

const NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/
/** A filter: a name, a prefix ending in `.*` (`invoice.*`), or `*`. */
const FILTER = /^(\*|[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*(\.\*)?)$/

/** The event types declared by the app and plugins: what endpoints may filter on. */
export class EventTypeCatalog {
  readonly #types = new Map<string, EventTypeDefinition>()
  #published: EventTypeInfo[] | null = null

  define(definition: EventTypeDefinition): void {
    if (!NAME.test(definition.name)) {
      throw new Error(
        `webhook event type "${definition.name}" must be dotted lower case, e.g. "invoice.paid"`,
      )
    }
    if (this.#types.has(definition.name)) {
      throw new Error(`webhook event type "${definition.name}" is defined twice`)
    }
    this.#types.set(definition.name, definition)
    this.#published = null
  }

  get(name: string): EventTypeDefinition | undefined {
    return this.#types.get(name)
  }

  /** The catalog as the route serves it, computed once per change. */
  list(): EventTypeInfo[] {
    this.#published ??= [...this.#types.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((type) => ({
        name: type.name,
        description: type.description,
        schema: z.toJSONSchema(type.schema, { io: 'input', unrepresentable: 'any' }) as Record<
          string,
          unknown
        >,
      }))
    return this.#published
  }

  /** The filters that are malformed or match no defined event type. */
  unknownFilters(filters: readonly string[]): string[] {
    return filters.filter(
      (filter) =>
        !FILTER.test(filter) ||
        ![...this.#types.keys()].some((name) => filterMatches(filter, name)),
    )
  }
}

/** Whether an endpoint filter selects an event type: exact, `prefix.*`, or `*`. */
export function filterMatches(filter: string, eventType: string): boolean {
  if (filter === '*') return true
  if (filter.endsWith('.*')) return eventType.startsWith(filter.slice(0, -1))
  return filter === eventType
}

/** An endpoint with no filter receives every event type. */
export function endpointWants(filters: readonly string[], eventType: string): boolean {
  return filters.length === 0 || filters.some((filter) => filterMatches(filter, eventType))
}
