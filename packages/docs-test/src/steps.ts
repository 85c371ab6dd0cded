import { shellCommands } from './commands.js'
import { PageError } from './page-error.js'
import { parseTranscriptTable, type TranscriptRow } from './transcript.js'

/**
 * What a marked part of a page asks the reader to do. A marker is an HTML comment on its own
 * line, `<!-- docs-test: <kind> [argument] -->`, directly above the fenced block (or, for a
 * transcript, the table) it applies to; the rendered page does not show it.
 */
export type Step =
  | { kind: 'file'; line: number; path: string; content: string }
  | { kind: 'append'; line: number; path: string; content: string }
  | { kind: 'run'; line: number; commands: string[]; capture?: string }
  | { kind: 'start'; line: number; command: string }
  | { kind: 'transcript'; line: number; rows: TranscriptRow[] }

const MARKER = /^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$/
const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)\s*$/

/** The marked steps of a markdown page, in page order. */
export function extractSteps(markdown: string): Step[] {
  const lines = markdown.split('\n')
  const steps: Step[] = []
  for (let index = 0; index < lines.length; index++) {
    const match = MARKER.exec(lines[index] ?? '')
    if (!match) continue
    const line = index + 1
    const [kind = '', ...args] = (match[1] ?? '').split(/\s+/)
    if (kind === 'transcript') {
      const table = tableAfter(lines, index + 1, line)
      steps.push({ kind, line, rows: parseTranscriptTable(table.lines, table.line) })
      index = table.end
      continue
    }
    const block = fenceAfter(lines, index + 1, line)
    index = block.end
    steps.push(stepOf(kind, args, block.content, line))
  }
  return steps
}

function stepOf(kind: string, args: string[], content: string, line: number): Step {
  switch (kind) {
    case 'file':
    case 'append': {
      const [path, ...rest] = args
      if (!path || rest.length > 0) throw new PageError(line, `${kind} needs exactly one path`)
      if (path.startsWith('/') || path.split('/').includes('..')) {
        throw new PageError(line, `${kind} path ${path} must stay inside the app`)
      }
      return { kind, line, path, content }
    }
    case 'run': {
      const captures = args.map((arg) => /^capture=([A-Z_][A-Z0-9_]*)$/.exec(arg))
      if (captures.some((capture) => !capture) || captures.length > 1) {
        throw new PageError(line, 'run takes nothing, or capture=NAME')
      }
      const commands = shellCommands(content)
      if (commands.length === 0) throw new PageError(line, 'run block has no command')
      const capture = captures[0]?.[1]
      return capture ? { kind, line, commands, capture } : { kind, line, commands }
    }
    case 'start': {
      const commands = shellCommands(content)
      const [command] = commands
      if (!command || commands.length !== 1 || args.length > 0) {
        throw new PageError(line, 'start block must hold exactly one command')
      }
      return { kind, line, command }
    }
    default:
      throw new PageError(line, `unknown docs-test marker "${kind}"`)
  }
}

function fenceAfter(lines: string[], from: number, markerLine: number) {
  const open = FENCE_OPEN.exec(lines[from] ?? '')
  if (!open) throw new PageError(markerLine, 'a docs-test marker must sit right above a code fence')
  const indent = open[1] ?? ''
  const fence = open[2] ?? '```'
  const body: string[] = []
  for (let index = from + 1; index < lines.length; index++) {
    const text = lines[index] ?? ''
    if (text.trim().startsWith(fence) && text.trim().replaceAll(fence[0] ?? '`', '') === '') {
      return { content: `${body.join('\n')}\n`, end: index }
    }
    body.push(text.startsWith(indent) ? text.slice(indent.length) : text.trimStart())
  }
  throw new PageError(markerLine, 'code fence is never closed')
}

function tableAfter(lines: string[], from: number, markerLine: number) {
  const table: string[] = []
  let index = from
  while (index < lines.length && (lines[index] ?? '').trim().startsWith('|')) {
    table.push(lines[index] ?? '')
    index++
  }
  if (table.length === 0) {
    throw new PageError(markerLine, 'a transcript marker must sit right above a table')
  }
  return { lines: table, line: from + 1, end: index - 1 }
}
