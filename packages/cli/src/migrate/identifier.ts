/** A PostgreSQL identifier, quoted so any name (case, spaces, quotes) means exactly itself. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
