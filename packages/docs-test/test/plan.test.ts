import { describe, expect, it } from 'vitest'
import { planOf } from '../src/plan.js'
import type { Step } from '../src/steps.js'

const run: Step = { kind: 'run', line: 1, commands: ['npm init -y'] }
const start: Step = { kind: 'start', line: 5, command: 'node app.js' }
const transcript: Step = { kind: 'transcript', line: 9, rows: [] }

describe('planOf', () => {
  it('splits the page into set-up steps, the start and the transcript', () => {
    expect(planOf([run, start, transcript])).toEqual({ setup: [run], start, transcript: [] })
  })

  it('refuses a page that never starts the app, or has no transcript to check it by', () => {
    expect(() => planOf([run, transcript])).toThrow('exactly one start step')
    expect(() => planOf([run, start])).toThrow('exactly one transcript')
  })

  it('refuses a set-up step after the start: the app would run without it', () => {
    const late: Step = { kind: 'run', line: 7, commands: ['npx tsc'] }
    expect(() => planOf([run, start, late, transcript])).toThrow('line 7: only the transcript')
  })
})
