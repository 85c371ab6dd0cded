// What the runner asks a server about its measured window: the CPU time it used (a steadier
// figure than req/s on a shared machine, since time spent waiting for a core does not count),
// and optionally a V8 CPU profile of that window only, not of startup (module loading and
// migrations would otherwise dominate it), written to `<dir>/<server>-<n>.cpuprofile`.
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

export type WindowMessage = { window: 'start'; profile: boolean } | { window: 'stop'; dir?: string }
/** CPU microseconds (user + system) the server used since the window started. */
export type WindowAnswer = { cpuMicros: number }

export function answerWindowRequests(name: string): void {
  let session: Session | null = null
  let started = process.cpuUsage()
  let taken = 0
  process.on('message', async (message: WindowMessage) => {
    if (message.window === 'start') {
      if (message.profile) {
        session ??= new Session()
        session.connect()
        await session.post('Profiler.enable')
        await session.post('Profiler.start')
      }
      started = process.cpuUsage()
    } else {
      const used = process.cpuUsage(started)
      if (session && message.dir) {
        const { profile } = await session.post('Profiler.stop')
        session.disconnect()
        taken++
        await writeFile(join(message.dir, `${name}-${taken}.cpuprofile`), JSON.stringify(profile))
      }
      const answer: WindowAnswer = { cpuMicros: used.user + used.system }
      process.send?.(answer)
      return
    }
    process.send?.({})
  })
}
