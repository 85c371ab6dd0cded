import { PageError } from './page-error.js'

/** One row of a page's transcript table: who sends which request, and the status it answers. */
export interface TranscriptRow {
  who: string
  request: string
  status: number
}

/**
 * The rows of a markdown table whose first three columns are who, the request (`METHOD /path`,
 * path parameters as `:name`, in backticks or not) and the answer's status code. Further
 * columns are for the reader. The first row is the header, the second the separator.
 */
export function parseTranscriptTable(lines: string[], firstLine: number): TranscriptRow[] {
  const [, separator, ...body] = lines
  if (!separator || !/^\s*\|(\s*:?-+:?\s*\|)+\s*$/.test(separator)) {
    throw new PageError(firstLine, 'a transcript table needs a header and a separator row')
  }
  return body.map((text, index) => {
    const line = firstLine + 2 + index
    const [who = '', request = '', status = ''] = cells(text)
    const method = /^`?([A-Z]+) (\/\S*?)`?$/.exec(request)
    if (!who || !method || !/^\d{3}$/.test(status)) {
      throw new PageError(line, `expected | who | \`METHOD /path\` | status |, got ${text}`)
    }
    return { who, request: `${method[1]} ${method[2]}`, status: Number(status) }
  })
}

function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((cell) => cell.trim())
}
