import type { Broadcast, BroadcastChannel, Clock } from '@acme/core'
import { z } from 'zod'
import { type EntitlementsOf, FlagSnapshot } from '../engine/snapshot.js'
import type { StoredConfiguration } from './flag-store.js'

/** `loading` until the first load, `ready` while known current, `stale` past the allowed age. */
export type FlagsState = 'loading' | 'ready' | 'stale'

export interface FlagsStatus {
  state: FlagsState
  environment: string
  /** The version this instance serves (0 before the first load). */
  version: number
  /** The highest version this instance has heard of. */
  knownVersion: number
  /** When this instance last knew its flags were current. */
  confirmedAt: Date | null
  /** Whether changes made on other instances reach this one by broadcast right now. */
  listening: boolean
}

export type StatusListener = (status: FlagsStatus, previous: FlagsState) => void
export type ChangeListener = (snapshot: FlagSnapshot) => void

export interface LiveFlagsOptions {
  environment: string
  load(): Promise<StoredConfiguration>
  readVersion(): Promise<number>
  broadcast: Broadcast
  /** The plan catalogue's entitlements (tenancy's `plans`). */
  entitlements: EntitlementsOf
  clock: Clock
  pollMs: number
  maxStaleMs: number
  logger: { warn(o: object, m?: string): void; info(o: object, m?: string): void }
}

/** What an instance tells the others: this environment is now at this version. */
const versionMessage = z.object({ environment: z.string(), version: z.number().int() }).strict()
type VersionMessage = z.output<typeof versionMessage>

/** Retry a failed first load this often, so readiness turns green soon after the database is up. */
const FIRST_LOAD_RETRY_MS = 1_000

/**
 * The flags this instance serves, kept current without any I/O on the evaluation path:
 * - a change made here is loaded before the call that made it returns, and announced with its
 *   version on core's broadcast; the other instances load it when they hear a version above
 *   theirs (within the second);
 * - every `pollMs`, the stored version is read as a fallback for a lost message, and after a
 *   broadcast reconnect (messages may have been missed) at once;
 * - versions only go up: a load that comes back older than what is served is dropped, and
 *   concurrent reasons to load share one load (followed by one more if a newer version was heard
 *   meanwhile);
 * - the instance knows its flags are current while it listens and serves the highest version it
 *   heard of, or when a poll or load has just said so; past `maxStaleMs` without knowing, it is
 *   STALE, and says so, until it knows again.
 */
export class LiveFlags {
  readonly #options: LiveFlagsOptions
  readonly #channel: BroadcastChannel<VersionMessage>
  #snapshot: FlagSnapshot | null = null
  #knownVersion = 0
  #confirmedAt: number | null = null
  #state: FlagsState = 'loading'
  #loading: Promise<void> | null = null
  #loadAgain = false
  #timer: NodeJS.Timeout | null = null
  #closed = false
  readonly #statusListeners = new Set<StatusListener>()
  readonly #changeListeners = new Set<ChangeListener>()

  constructor(options: LiveFlagsOptions) {
    this.#options = options
    this.#channel = options.broadcast.channel('flags:versions', {
      schema: versionMessage,
      onMessage: (message) => {
        if (message.environment !== options.environment) return
        this.heard(message.version)
      },
      onMissed: (reason) => {
        if (reason === 'resubscribed') this.#poll()
        this.#updateState()
      },
    })
  }

  /** The snapshot served, or null before the first load. */
  get snapshot(): FlagSnapshot | null {
    return this.#snapshot
  }

  get state(): FlagsState {
    return this.#state
  }

  /** True while STALE: read on every evaluation, so a field, not a computation. */
  get stale(): boolean {
    return this.#state === 'stale'
  }

  status(): FlagsStatus {
    return {
      state: this.#state,
      environment: this.#options.environment,
      version: this.#snapshot?.version ?? 0,
      knownVersion: this.#knownVersion,
      confirmedAt: this.#confirmedAt === null ? null : new Date(this.#confirmedAt),
      listening: this.#channel.listening,
    }
  }

  onStatus(listener: StatusListener): () => void {
    this.#statusListeners.add(listener)
    return () => this.#statusListeners.delete(listener)
  }

  onChange(listener: ChangeListener): () => void {
    this.#changeListeners.add(listener)
    return () => this.#changeListeners.delete(listener)
  }

  /** First load (awaited, so a healthy start serves flags at once), then the timer. */
  async start(): Promise<void> {
    try {
      await this.reload()
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'flags: first load failed; retrying')
    }
    this.#schedule()
  }

  close(): void {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  /** A version was announced (by the broadcast, or by this instance after its own change). */
  heard(version: number): void {
    if (version > this.#knownVersion) this.#knownVersion = version
    if (version > (this.#snapshot?.version ?? -1)) {
      this.reload().catch((error: unknown) => {
        this.#options.logger.warn({ err: error }, 'flags: loading a newer version failed')
        this.#updateState()
      })
    }
  }

  /** After a change made here: serves it before answering (and anything newer heard meanwhile). */
  async caughtUp(version: number): Promise<void> {
    if (version > this.#knownVersion) this.#knownVersion = version
    if (version > (this.#snapshot?.version ?? -1)) await this.reload()
  }

  /** Announces a version this instance wrote; rejects when Redis did not take the message. */
  publish(version: number): Promise<void> {
    return this.#channel.publish({ environment: this.#options.environment, version })
  }

  /** Loads now (joining a load in flight, and loading again if it may predate what was heard). */
  reload(): Promise<void> {
    if (this.#loading) {
      this.#loadAgain = true
      return this.#loading
    }
    const run = async () => {
      try {
        do {
          this.#loadAgain = false
          await this.#loadOnce()
        } while (this.#loadAgain)
      } finally {
        this.#loading = null
      }
    }
    this.#loading = run()
    return this.#loading
  }

  async #loadOnce(): Promise<void> {
    const startedAt = this.#now()
    const stored = await this.#options.load()
    const current = this.#snapshot
    if (current && stored.version < current.version) return
    if (stored.version < this.#knownVersion && !this.#loadAgain) {
      // The database is the truth: an announced version it does not hold after the announcement
      // was not a real change (another deployment sharing the prefix, or forged), and waiting
      // for it would leave this instance behind forever.
      this.#options.logger.warn(
        { announced: this.#knownVersion, stored: stored.version },
        'flags: an announced version is not in the database; serving the stored one',
      )
      this.#knownVersion = stored.version
    } else if (stored.version > this.#knownVersion) {
      this.#knownVersion = stored.version
    }
    // What was read was current when the read began: confirm from then, not from now.
    this.#confirmedAt = Math.max(this.#confirmedAt ?? 0, startedAt)
    if (!current || stored.version > current.version) {
      const snapshot = new FlagSnapshot({ ...stored, entitlements: this.#options.entitlements })
      this.#snapshot = snapshot
      for (const listener of this.#changeListeners) listener(snapshot)
    }
    this.#updateState()
  }

  #schedule(): void {
    if (this.#closed) return
    const every =
      this.#options.pollMs > 0 ? this.#options.pollMs : Math.max(this.#options.maxStaleMs / 4, 50)
    const delay = this.#snapshot ? every : Math.min(every, FIRST_LOAD_RETRY_MS)
    this.#timer = setTimeout(() => {
      const behind = this.#knownVersion > (this.#snapshot?.version ?? 0)
      const work =
        this.#snapshot === null || this.#options.pollMs > 0 || behind
          ? this.#poll()
          : Promise.resolve()
      void work.finally(() => {
        this.#updateState()
        this.#schedule()
      })
    }, delay)
    this.#timer.unref()
  }

  /** Reads the stored version: loads if it is newer, else confirms what is served. */
  async #poll(): Promise<void> {
    if (this.#closed) return
    try {
      if (this.#snapshot === null) {
        await this.reload()
        return
      }
      const startedAt = this.#now()
      const version = await this.#options.readVersion()
      if (version > (this.#snapshot?.version ?? 0)) {
        this.heard(version)
        await this.#loading
      } else {
        this.#confirmedAt = Math.max(this.#confirmedAt ?? 0, startedAt)
      }
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'flags: checking the stored version failed')
    } finally {
      this.#updateState()
    }
  }

  #updateState(): void {
    const previous = this.#state
    const snapshot = this.#snapshot
    let next: FlagsState
    if (!snapshot) {
      next = 'loading'
    } else {
      const now = this.#now()
      // Listening and serving the newest version heard of: any change would have been heard.
      if (this.#channel.listening && snapshot.version >= this.#knownVersion) this.#confirmedAt = now
      const confirmedAt = this.#confirmedAt ?? 0
      next = now - confirmedAt > this.#options.maxStaleMs ? 'stale' : 'ready'
    }
    this.#state = next
    if (next === previous) return
    const status = this.status()
    if (next === 'stale') {
      this.#options.logger.warn(
        {
          version: status.version,
          knownVersion: status.knownVersion,
          confirmedAt: status.confirmedAt,
        },
        'flags: STALE, could not confirm the flags are current',
      )
    } else if (previous === 'stale') {
      this.#options.logger.info({ version: status.version }, 'flags: current again')
    }
    for (const listener of this.#statusListeners) listener(status, previous)
  }

  #now(): number {
    return this.#options.clock().getTime()
  }
}
