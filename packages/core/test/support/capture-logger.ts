import type { Logger } from '../../src/logger.js'

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  object: Record<string, unknown>
  message: string | undefined
}

export interface CapturingLogger extends Logger {
  readonly lines: LogLine[]
  /** Everything logged, serialized, errors included: for "never logs X" assertions. */
  text(): string
}

export function createCapturingLogger(): CapturingLogger {
  const lines: LogLine[] = []
  const record =
    (level: LogLine['level']) =>
    (object: object, message?: string): void => {
      lines.push({ level, object: { ...object }, message })
    }
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    text: () => JSON.stringify(lines, serializeErrors),
  }
}

function serializeErrors(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack, cause: value.cause }
  }
  return value
}
