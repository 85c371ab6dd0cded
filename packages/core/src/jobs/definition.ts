import type { z } from 'zod'
import { CoreErrors } from '../errors.js'
import type { JobContext, JobDefinition, JobRunnerSettings } from './types.js'

/** A definition with core's defaults applied and its payload type erased, so a runner can keep any job. */
export interface ResolvedJob {
  readonly name: string
  readonly attempts: number
  readonly backoffMs: number
  readonly concurrency: number
  readonly keepCompleted: boolean
  /** BullMQ's lock duration and stalled-check interval for this job's worker. */
  readonly stallAfterMs: number
  /** Throws `InvalidJobPayload` naming the bad fields, so the caller's bug fails at enqueue. */
  validate(payload: unknown): void
  /** Parses the stored payload again (a schema may transform it) and runs the handler. */
  run(payload: unknown, context: JobContext): Promise<void>
}

// Dotted words; no ':' because BullMQ uses it to separate the parts of its keys.
const JOB_NAME = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$/i

export function resolveJob<S extends z.ZodType>(
  definition: JobDefinition<S>,
  settings: JobRunnerSettings,
): ResolvedJob {
  const { name, schema, handler } = definition
  if (!JOB_NAME.test(name)) {
    throw new TypeError(`Job name "${name}" must be dotted words, like "mail.send"`)
  }
  const attempts = positiveInteger(name, 'attempts', definition.attempts ?? settings.attempts)
  const concurrency = positiveInteger(
    name,
    'concurrency',
    definition.concurrency ?? settings.concurrency,
  )
  const stallAfterMs = positiveInteger(name, 'stallAfterMs', definition.stallAfterMs ?? 30_000)
  const backoffMs = definition.backoffMs ?? settings.backoffMs
  if (!Number.isInteger(backoffMs) || backoffMs < 0) {
    throw new TypeError(`Job "${name}": backoffMs must be a non-negative integer`)
  }

  const parse = (payload: unknown): z.output<S> => {
    const result = schema.safeParse(payload)
    if (result.success) return result.data
    throw invalidPayload(name, result.error)
  }

  return {
    name,
    attempts,
    backoffMs,
    concurrency,
    keepCompleted: definition.keepCompleted ?? false,
    stallAfterMs,
    validate: (payload) => {
      parse(payload)
    },
    run: async (payload, context) => handler(parse(payload), context),
  }
}

/** BullMQ's rules for custom ids, applied by both runners so they accept the same ids. */
export function assertCustomJobId(name: string, jobId: string | undefined): void {
  if (jobId === undefined) return
  // Integer ids would collide with the generated ones.
  if (`${Number.parseInt(jobId, 10)}` === jobId || jobId.includes(':') || jobId === '') {
    throw new Error(`Job "${name}": jobId "${jobId}" must not be empty, an integer, or contain ':'`)
  }
}

export function isInvalidPayload(error: unknown): boolean {
  return error instanceof CoreErrors.InvalidJobPayload
}

/** Names the job and the bad fields; never the values, which may be secrets (reset links). */
function invalidPayload(name: string, error: z.ZodError) {
  const problems = error.issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(root)'
    return `${path} (${issue.code})`
  })
  return new CoreErrors.InvalidJobPayload({
    detail: `Job "${name}" got an invalid payload: ${[...new Set(problems)].join(', ')}`,
    cause: error,
  })
}

function positiveInteger(name: string, option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`Job "${name}": ${option} must be a positive integer`)
  }
  return value
}
