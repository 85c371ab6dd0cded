import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Step } from './steps.js'

/**
 * Writes a page's file as shown (`file`), or adds it at the end of the file the reader was told
 * to extend (`append`: the file must exist; a blank line separates the addition).
 */
export function applyFileStep(appDir: string, step: Extract<Step, { kind: 'file' | 'append' }>) {
  const path = join(appDir, step.path)
  if (step.kind === 'file') {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, step.content)
    return
  }
  if (!existsSync(path)) {
    throw new Error(`docs line ${step.line}: ${step.path} does not exist yet, nothing to add to`)
  }
  const current = readFileSync(path, 'utf8')
  const separator = current.endsWith('\n\n') ? '' : current.endsWith('\n') ? '\n' : '\n\n'
  appendFileSync(path, `${separator}${step.content}`)
}
