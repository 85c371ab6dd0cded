import type { SourceLocation } from './errors.js'

/**
 * Text built line by line that remembers where each line came from, so an error Prisma reports
 * at a line of the merged schema can be shown at the fragment's (or app file's) own line.
 */
export class MappedText {
  private readonly lines: string[] = []
  private readonly origins: (SourceLocation | null)[] = []

  /** A line acme wrote itself (header, marker, base block): it maps to no input file. */
  pushGenerated(text: string): void {
    this.lines.push(text)
    this.origins.push(null)
  }

  pushFrom(text: string, origin: SourceLocation): void {
    this.lines.push(text)
    this.origins.push(origin)
  }

  /** The origin of a 1-based line, or of the closest mapped line above it (e.g. a blank one). */
  originOf(line: number): SourceLocation | null {
    for (let index = Math.min(line, this.lines.length) - 1; index >= 0; index--) {
      const origin = this.origins[index]
      if (origin) return origin
      if (this.lines[index]?.trim() !== '') return null
    }
    return null
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`
  }
}
