import type {} from '@acme/auth'
import { CoreErrors, type RouteCheckFactory } from '@acme/core'
import type {} from '@acme/tenancy'
import type { FastifyRequest } from 'fastify'
import type { EvaluationContext } from './engine/conditions.js'
import { FlagsErrors } from './errors.js'
import type { Evaluator } from './evaluator.js'
import type { LiveFlags } from './store/live-flags.js'
import type {
  BooleanFlagKey,
  FlagKey,
  FlagValueOf,
  RequestFlags,
  TypedEvaluation,
} from './types.js'

/** The request's tenant, its plan and the caller: what a request's flags are evaluated for. */
export function contextOf(request: FastifyRequest): EvaluationContext {
  const tenant = request.tenant
  return {
    tenantId: tenant?.id ?? null,
    plan: tenant?.plan ?? null,
    userId: request.principal?.userId ?? null,
  }
}

/** `request.flags`: built on first use in a request, evaluating against memory. */
export class RequestFlagsView implements RequestFlags {
  readonly #evaluator: Evaluator
  readonly context: EvaluationContext

  constructor(evaluator: Evaluator, context: EvaluationContext) {
    this.#evaluator = evaluator
    this.context = context
  }

  isEnabled(key: BooleanFlagKey): boolean {
    return this.#evaluator.isEnabled(key, this.context)
  }

  evaluate<K extends FlagKey>(key: K): TypedEvaluation<FlagValueOf<K>> {
    return this.#evaluator.evaluate(key, this.context) as TypedEvaluation<FlagValueOf<K>>
  }

  value<K extends FlagKey>(key: K): FlagValueOf<K> {
    return this.#evaluator.value(key, this.context) as FlagValueOf<K>
  }

  withAttributes(attributes: EvaluationContext['attributes']): RequestFlags {
    return new RequestFlagsView(this.#evaluator, {
      ...this.context,
      attributes: { ...this.context.attributes, ...attributes },
    })
  }
}

/**
 * `config.flag`: the route answers 404 (as if it did not exist) unless the boolean flag is on for
 * the request, decided from memory in the last check phase, once the caller and the tenant are
 * known. Before the first load it answers 503.
 */
export function flagCheck(live: LiveFlags, evaluator: Evaluator): RouteCheckFactory {
  return (route) => {
    const key = route.config.flag
    if (typeof key !== 'string') return null
    return (request) => {
      if (live.snapshot === null) throw new FlagsErrors.NotLoaded()
      if (!evaluator.isEnabled(key, request.flags.context)) throw new CoreErrors.RouteNotFound()
    }
  }
}
