import {
  ErrorCode,
  type JsonValue,
  type EvaluationContext as OpenFeatureContext,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
} from '@openfeature/server-sdk'
import type { AttributeValue, EvaluationContext } from './engine/conditions.js'
import type { FlagKey, FlagsServices } from './types.js'

/**
 * An OpenFeature server provider over `app.flags`: code written against the vendor-neutral API
 * (`OpenFeature.getClient().getBooleanValue(...)`) evaluates acme's flags in process, with no
 * I/O. Context: `tenantId`, `plan` and `userId` (or the `targetingKey`) are the engine's own; any
 * other string, number, boolean or string-list attribute is there for rules.
 *
 * Events: READY once flags are loaded (and again when they are current after being stale),
 * STALE when the instance cannot confirm they are current, CONFIGURATION_CHANGED with each new
 * version.
 */
export class AcmeFlagsProvider implements Provider {
  readonly metadata = { name: 'acme-flags' } as const
  readonly runsOn = 'server' as const
  readonly events = new OpenFeatureEventEmitter()
  readonly #flags: FlagsServices
  readonly #unsubscribe: Array<() => void> = []

  constructor(flags: FlagsServices) {
    this.#flags = flags
  }

  /** Resolves once flags are loaded: the SDK reports READY then. */
  async initialize(): Promise<void> {
    this.#unsubscribe.push(
      this.#flags.onStatus((status, previous) => {
        if (status.state === 'stale')
          this.events.emit(ProviderEvents.Stale, { message: 'flags are stale' })
        else if (status.state === 'ready' && previous === 'stale')
          this.events.emit(ProviderEvents.Ready)
      }),
      this.#flags.onChange((version) => {
        this.events.emit(ProviderEvents.ConfigurationChanged, { metadata: { version } })
      }),
    )
    if (this.#flags.status().state !== 'loading') return
    await new Promise<void>((resolve) => {
      const stop = this.#flags.onStatus((status) => {
        if (status.state === 'loading') return
        stop()
        resolve()
      })
    })
  }

  async onClose(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe()
  }

  resolveBooleanEvaluation(key: string, defaultValue: boolean, context: OpenFeatureContext) {
    return Promise.resolve(
      this.#resolve(key, defaultValue, context, (value) => typeof value === 'boolean'),
    )
  }

  resolveStringEvaluation(key: string, defaultValue: string, context: OpenFeatureContext) {
    return Promise.resolve(
      this.#resolve(key, defaultValue, context, (value) => typeof value === 'string'),
    )
  }

  resolveNumberEvaluation(key: string, defaultValue: number, context: OpenFeatureContext) {
    return Promise.resolve(
      this.#resolve(key, defaultValue, context, (value) => typeof value === 'number'),
    )
  }

  resolveObjectEvaluation<T extends JsonValue>(
    key: string,
    defaultValue: T,
    context: OpenFeatureContext,
  ) {
    return Promise.resolve(
      this.#resolve(
        key,
        defaultValue,
        context,
        (value) => typeof value === 'object' && value !== null,
      ),
    )
  }

  #resolve<T>(
    key: string,
    defaultValue: T,
    context: OpenFeatureContext,
    fits: (value: unknown) => boolean,
  ): ResolutionDetails<T> {
    // OpenFeature names flags by any string: an unknown key answers FLAG_NOT_FOUND.
    const evaluation = this.#flags.evaluate(key as FlagKey, toContext(context))
    if (evaluation.errorCode === 'FLAG_NOT_FOUND') {
      return { value: defaultValue, reason: 'ERROR', errorCode: ErrorCode.FLAG_NOT_FOUND }
    }
    if (evaluation.errorCode === 'NOT_READY') {
      return { value: defaultValue, reason: 'ERROR', errorCode: ErrorCode.PROVIDER_NOT_READY }
    }
    if (!fits(evaluation.value)) {
      return {
        value: defaultValue,
        reason: 'ERROR',
        errorCode: ErrorCode.TYPE_MISMATCH,
        errorMessage: `flag "${key}" does not serve this type`,
      }
    }
    return {
      value: evaluation.value as T,
      variant: evaluation.variant,
      reason: evaluation.reason,
      flagMetadata: { version: evaluation.version, matched: evaluation.matched },
    }
  }
}

/** OpenFeature's context as the engine's: the first-class fields, then simple attributes. */
function toContext(context: OpenFeatureContext): EvaluationContext {
  const attributes: Record<string, AttributeValue> = {}
  for (const [name, value] of Object.entries(context)) {
    if (name === 'tenantId' || name === 'plan' || name === 'userId' || name === 'targetingKey')
      continue
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      attributes[name] = value
    } else if (value instanceof Date) {
      attributes[name] = value.toISOString()
    } else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      attributes[name] = value as string[]
    }
  }
  const text = (value: unknown) => (typeof value === 'string' ? value : null)
  return {
    tenantId: text(context.tenantId),
    plan: text(context.plan),
    userId: text(context.userId) ?? text(context.targetingKey),
    attributes,
  }
}
