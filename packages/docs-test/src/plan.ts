import { PageError } from './page-error.js'
import type { Step } from './steps.js'
import type { TranscriptRow } from './transcript.js'

type SetupStep = Extract<Step, { kind: 'file' | 'append' | 'run' }>

/** A page's steps in the order a reader follows them: set up, start, then try the app. */
export interface PagePlan {
  setup: SetupStep[]
  start: Extract<Step, { kind: 'start' }>
  transcript: TranscriptRow[]
}

export function planOf(steps: Step[]): PagePlan {
  const starts = steps.filter((step) => step.kind === 'start')
  const transcripts = steps.filter((step) => step.kind === 'transcript')
  const [start] = starts
  const [transcript] = transcripts
  if (!start || starts.length > 1) throw new PageError(1, 'the page needs exactly one start step')
  if (!transcript || transcripts.length > 1) {
    throw new PageError(1, 'the page needs exactly one transcript')
  }
  if (transcript.line < start.line) {
    throw new PageError(transcript.line, 'the transcript must come after the start step')
  }
  const late = steps.find((step) => step.line > start.line && step.kind !== 'transcript')
  if (late) throw new PageError(late.line, 'only the transcript may follow the start step')
  const setup = steps.filter(
    (step): step is SetupStep => step.kind !== 'start' && step.kind !== 'transcript',
  )
  return { setup, start, transcript: transcript.rows }
}

/** The database role the page has the reader create for the app (`acme db app-role --role`). */
export function appRoleOf(plan: PagePlan): string {
  for (const step of plan.setup) {
    if (step.kind !== 'run') continue
    for (const command of step.commands) {
      const role = /\bacme db app-role\b.*--role\s+(\w+)/.exec(command)?.[1]
      if (role) return role
    }
  }
  throw new PageError(1, "the page never creates the app's database role (acme db app-role)")
}
