import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { acceptsConnections, isRunning, processTree, waitFor } from '../src/index.js'

describe('processTree and isRunning', () => {
  it('find what a command started, and tell when all of it has gone', async () => {
    // A shell that starts a grandchild and waits for it, as a package manager's script does.
    const shell = spawn('sh', ['-c', 'sleep 60 & wait'], { stdio: 'ignore' })
    const pid = shell.pid as number
    const tree = await waitFor(() => (processTree(pid).length === 2 ? processTree(pid) : false))
    expect(tree[0]).toBe(pid)
    const [, sleeper] = tree as [number, number]
    expect(isRunning(sleeper)).toBe(true)
    // The shell dies and leaves its child behind: the very leak the start tests look for.
    shell.kill('SIGKILL')
    await once(shell, 'exit')
    expect(isRunning(pid)).toBe(false)
    expect(isRunning(sleeper)).toBe(true)
    process.kill(sleeper, 'SIGKILL')
    await waitFor(() => !isRunning(sleeper))
  })
})

describe('acceptsConnections', () => {
  it('is true while a server listens on the port and false once it has closed', async () => {
    const server = createServer().listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    expect(await acceptsConnections(port)).toBe(true)
    server.close()
    await once(server, 'close')
    expect(await acceptsConnections(port)).toBe(false)
  })
})
