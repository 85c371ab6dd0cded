import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { publishedPackages } from '../src/pack.js'
import { planOf } from '../src/plan.js'
import { extractSteps } from '../src/steps.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))

describe('the docs test in the workspace', () => {
  it('depends on every published package, so turbo builds each before the test packs it', () => {
    const manifest = JSON.parse(
      readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'),
    ) as { devDependencies: Record<string, string> }
    const published = publishedPackages(root).map(({ name }) => name)
    expect(published).toContain('@acme/core')
    expect(published.filter((name) => !manifest.devDependencies[name])).toEqual([])
  })

  it('reads docs/getting-started.md as set-up steps, one start and a transcript', () => {
    const plan = planOf(extractSteps(readFileSync(join(root, 'docs/getting-started.md'), 'utf8')))
    expect(plan.setup.map((step) => step.kind)).toContain('file')
    expect(plan.transcript.length).toBeGreaterThan(0)
  })
})
