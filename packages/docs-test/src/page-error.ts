/** A page whose docs-test markers or transcript cannot be read, at the line to fix. */
export class PageError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`)
    this.name = 'PageError'
  }
}
