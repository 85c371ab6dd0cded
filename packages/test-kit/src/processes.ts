import { readdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'

/** `pid`'s state and parent from /proc (Linux), or null when there is no such process. */
function statOf(pid: number): { state: string; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // "pid (command name) state ppid ...": the name may hold spaces and parentheses.
    const [state = '', ppid = '0'] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state, ppid: Number(ppid) }
  } catch {
    return null
  }
}

/**
 * `pid` and every process below it, read from /proc (Linux): what a command started (a package
 * manager, its shell, the app), to check afterwards that none of it is left running.
 */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    const child = Number(entry)
    if (!Number.isInteger(child)) continue
    const stat = statOf(child)
    if (!stat) continue
    parents.set(stat.ppid, [...(parents.get(stat.ppid) ?? []), child])
  }
  const tree: number[] = []
  const pending = [pid]
  while (pending.length > 0) {
    const next = pending.pop() as number
    tree.push(next)
    pending.push(...(parents.get(next) ?? []))
  }
  return tree
}

/** Whether `pid` still runs (a zombie, exited but not yet reaped, does not). */
export function isRunning(pid: number): boolean {
  const stat = statOf(pid)
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X'
}

/** Whether something accepts TCP connections on `port` now. */
export function acceptsConnections(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host })
    socket.setTimeout(2_000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(false))
  })
}
