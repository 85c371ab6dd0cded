import type { Failure } from './runner.js'

export interface DistinctFailure {
  operation: string
  variant: string
  status: number
  code: string
  check: string
  identities: string[]
  cause?: string
  count: number
}

/** Failures grouped by what broke: one line per operation, variant, status, code and rule. */
export function distinctFailures(failures: Failure[]): DistinctFailure[] {
  const groups = new Map<string, DistinctFailure>()
  for (const failure of failures) {
    const key = [
      failure.operation,
      failure.variant,
      failure.status,
      failure.code,
      failure.check,
    ].join('\u0000')
    const group = groups.get(key)
    if (group) {
      group.count++
      if (!group.identities.includes(failure.identity)) group.identities.push(failure.identity)
      continue
    }
    groups.set(key, {
      operation: failure.operation,
      variant: failure.variant,
      status: failure.status,
      code: failure.code,
      check: failure.check,
      identities: [failure.identity],
      ...(failure.cause ? { cause: failure.cause } : {}),
      count: 1,
    })
  }
  return [...groups.values()]
}

/** Every distinct failure, one line each. */
export function failureTable(rows: DistinctFailure[]): string {
  return table(
    ['operation', 'variant', 'status', 'code', 'check', 'as', 'n', 'server log'],
    rows.map((row) => [
      row.operation,
      row.variant,
      String(row.status),
      row.code,
      row.check,
      row.identities.join('+'),
      String(row.count),
      row.cause ?? '',
    ]),
  )
}

/** The same failures by kind (status, code, rule): how many operations and variants each hits. */
export function classTable(rows: DistinctFailure[]): string {
  const classes = new Map<
    string,
    { row: DistinctFailure; operations: Set<string>; lines: number }
  >()
  for (const row of rows) {
    const key = [row.status, row.code, row.check, row.cause ?? ''].join('\u0000')
    const entry = classes.get(key) ?? { row, operations: new Set<string>(), lines: 0 }
    entry.operations.add(row.operation)
    entry.lines++
    classes.set(key, entry)
  }
  return table(
    ['status', 'code', 'check', 'operations', 'variants', 'example', 'server log'],
    [...classes.values()].map(({ row, operations, lines }) => [
      String(row.status),
      row.code,
      row.check,
      String(operations.size),
      String(lines),
      `${row.operation} ${row.variant}`,
      row.cause ?? '',
    ]),
  )
}

/** A plain-text table, widths fitted to the content (capped so one long cell does not wrap it all). */
function table(header: string[], lines: string[][]): string {
  const widths = header.map((title, column) =>
    Math.min(90, Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length))),
  )
  const format = (cells: string[]) =>
    cells
      .map((cell, column) => clip(cell, widths[column] ?? 0).padEnd(widths[column] ?? 0))
      .join(' | ')
      .trimEnd()
  return [
    format(header),
    widths.map((width) => '-'.repeat(width)).join('-|-'),
    ...lines.map(format),
  ].join('\n')
}

function clip(text: string, width: number): string {
  // Control characters (the fuzzer's own NULs and escapes) would break the table's lines.
  const flat = Array.from(text, (char) => (char < ' ' || char === '\u007f' ? '?' : char)).join('')
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat
}

/** The line printed on every run, failing or not. */
export function countsLine(counts: {
  operations: number
  requests: number
  serverErrors: number
  failures: number
  seed: number
  seconds: number
}): string {
  const n = (value: number) => value.toLocaleString('en-US')
  return (
    `fuzz: ${n(counts.operations)} operations, ${n(counts.requests)} requests, ` +
    `${n(counts.serverErrors)} responses >= 500, ${n(counts.failures)} rule violations, ` +
    `seed ${counts.seed}, ${counts.seconds.toFixed(1)} s`
  )
}
