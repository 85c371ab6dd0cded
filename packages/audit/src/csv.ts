/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break, and prefixed with
 * `'` when it starts like a formula (`=`, `+`, `-`, `@`, tab, carriage return), so a spreadsheet
 * opening the export shows text instead of running it (OWASP "CSV injection").
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return ''
  let text = String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

export const csvRow = (cells: ReadonlyArray<string | number | null>): string =>
  `${cells.map(csvCell).join(',')}\r\n`
