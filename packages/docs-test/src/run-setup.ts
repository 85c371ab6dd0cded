import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { applyFileStep } from './app-files.js'
import { withTarballs } from './commands.js'
import type { PagePlan } from './plan.js'
import { type CommandResult, describeFailure, runCommand } from './shell.js'

/**
 * Follows the page's set-up steps in order in `appDir`: writes its files, runs its commands
 * (npm installs taking the packed tarballs), and answers what `capture=` blocks printed.
 * Stops at the first command that fails, with the page's line and the command's output.
 */
export async function runSetup(
  setup: PagePlan['setup'],
  options: {
    appDir: string
    env: Record<string, string>
    tarballs: ReadonlyMap<string, string>
    timeoutMs: number
    onCommand?: (line: string, result: CommandResult) => void
  },
): Promise<Record<string, string>> {
  const captured: Record<string, string> = {}
  for (const step of setup) {
    if (step.kind !== 'run') {
      applyFileStep(options.appDir, step)
      continue
    }
    let stdout = ''
    for (const line of step.commands) {
      const result = await runCommand(withTarballs(line, options.tarballs), {
        cwd: options.appDir,
        env: { ...options.env, ...captured },
        timeoutMs: options.timeoutMs,
      })
      options.onCommand?.(line, result)
      if (result.code !== 0) throw new Error(describeFailure(result, step.line))
      stdout += result.stdout
    }
    if (step.capture) captured[step.capture] = stdout.trim()
  }
  return captured
}

/** Installed packages of `scope` that npm took from somewhere other than a local tarball. */
export function notFromTarballs(appDir: string, scope = '@acme/'): string[] {
  const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { resolved?: string }>
  }
  return Object.entries(lock.packages)
    .filter(([path]) => path.includes(`node_modules/${scope}`))
    .filter(([, entry]) => !entry.resolved?.startsWith('file:'))
    .map(([path]) => path)
}
