#!/usr/bin/env node
// Sums the vitest JSON reports of every workspace package into one closing line, so a reader
// (and CI) sees "Tests: N passed, N failed" last. `--clean` deletes old reports first;
// `--record <file>` also writes the counts; `--combine <files...>` adds recorded runs up.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)

function reportFiles() {
  const files = []
  for (const group of ['packages', 'examples', 'bench']) {
    const dir = join(root, group)
    if (!existsSync(dir)) continue
    const candidates = group === 'bench' ? [dir] : readdirSync(dir).map((name) => join(dir, name))
    for (const pkg of candidates) {
      const file = join(pkg, 'test-results', 'vitest.json')
      if (existsSync(file)) files.push(file)
    }
  }
  return files
}

function line({ passed, failed, skipped }) {
  return `Tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`
}

if (args[0] === '--clean') {
  for (const file of reportFiles()) rmSync(file)
  process.exit(0)
}

if (args[0] === '--combine') {
  const total = { passed: 0, failed: 0, skipped: 0 }
  for (const file of args.slice(1)) {
    const counts = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { failed: 1 }
    for (const key of Object.keys(total)) total[key] += counts[key] ?? 0
  }
  console.log(line(total))
  process.exit(total.failed === 0 && total.passed > 0 ? 0 : 1)
}

const total = { passed: 0, failed: 0, skipped: 0 }
const files = reportFiles()
for (const file of files) {
  const report = JSON.parse(readFileSync(file, 'utf8'))
  total.passed += report.numPassedTests
  total.failed += report.numFailedTests + (report.numFailedTestSuites ?? 0)
  total.skipped += report.numPendingTests + report.numTodoTests
  const name = file.slice(root.length).replace('/test-results/vitest.json', '')
  console.log(`  ${name}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`)
}
const recordIndex = args.indexOf('--record')
if (recordIndex >= 0) writeFileSync(args[recordIndex + 1], JSON.stringify(total))
console.log(line(total))
process.exit(total.failed === 0 && total.passed > 0 && files.length > 0 ? 0 : 1)
