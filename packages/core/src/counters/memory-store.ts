import { type Clock, systemClock } from '../clock.js'
import { assertLease, assertWindow, gcraDecision, gcraParameters, nowMicros } from './gcra.js'
import type {
  CounterStore,
  GcraDecision,
  GcraLimit,
  LeaseDecision,
  LeaseLimit,
  WindowHit,
} from './types.js'

type Entry =
  | { kind: 'window'; count: number; endsAt: number }
  /** TAT in µs; the entry is gone once the TAT is reached (a full bucket). */
  | { kind: 'gcra'; tatMicros: number }
  /** Holder to the ms its slot expires. */
  | { kind: 'lease'; holders: Map<string, number> }

/** Below this many keys there is no sweep; past it, a sweep each time the map doubles. */
const SWEEP_FROM = 10_000

/**
 * The same counters in one process, for an app without Redis (one instance) and for tests.
 * Everything, windows included, follows the injected clock.
 */
export class MemoryCounterStore implements CounterStore {
  readonly kind = 'memory'
  readonly #clock: Clock
  readonly #prefix: string
  readonly #entries = new Map<string, Entry>()
  #sweepAt = SWEEP_FROM

  constructor(options: { clock?: Clock; prefix?: string } = {}) {
    this.#clock = options.clock ?? systemClock
    this.#prefix = options.prefix ?? ''
  }

  async hit(key: string, windowMs: number): Promise<WindowHit> {
    assertWindow(windowMs)
    const now = this.#now()
    let entry = this.#window(this.#prefix + key, now)
    if (!entry) {
      entry = { kind: 'window', count: 0, endsAt: now + windowMs }
      this.#set(this.#prefix + key, entry, now)
    }
    entry.count += 1
    return { count: entry.count, resetMs: entry.endsAt - now }
  }

  async giveBack(key: string): Promise<number> {
    const entry = this.#window(this.#prefix + key, this.#now())
    if (!entry) return 0
    if (entry.count > 0) entry.count -= 1
    return entry.count
  }

  async attempt(key: string, ttlMs: number): Promise<number> {
    assertWindow(ttlMs, 'ttl')
    return (await this.hit(key, ttlMs)).count
  }

  async gcra(key: string, limit: GcraLimit): Promise<GcraDecision> {
    const parameters = gcraParameters(limit)
    const now = nowMicros(this.#clock())
    const stored = this.#entries.get(this.#prefix + key)
    const tat = stored?.kind === 'gcra' && stored.tatMicros > now ? stored.tatMicros : now
    const nextTat = tat + parameters.intervalMicros
    if (nextTat - parameters.toleranceMicros > now) {
      return gcraDecision(false, tat - now, parameters)
    }
    this.#set(this.#prefix + key, { kind: 'gcra', tatMicros: nextTat }, now / 1_000)
    return gcraDecision(true, nextTat - now, parameters)
  }

  async lease(key: string, holder: string, limit: LeaseLimit): Promise<LeaseDecision> {
    assertLease(holder, limit)
    const now = this.#now()
    const stored = this.#entries.get(this.#prefix + key)
    const holders = stored?.kind === 'lease' ? stored.holders : new Map<string, number>()
    for (const [other, expiresAt] of holders) if (expiresAt <= now) holders.delete(other)
    if (!holders.has(holder) && holders.size >= limit.limit) {
      return { acquired: false, held: holders.size }
    }
    holders.set(holder, now + limit.ttlMs)
    this.#set(this.#prefix + key, { kind: 'lease', holders }, now)
    return { acquired: true, held: holders.size }
  }

  async release(key: string, holder: string): Promise<boolean> {
    const stored = this.#entries.get(this.#prefix + key)
    return stored?.kind === 'lease' ? stored.holders.delete(holder) : false
  }

  async reset(key: string): Promise<void> {
    this.#entries.delete(this.#prefix + key)
  }

  #now(): number {
    return this.#clock().getTime()
  }

  /** The open window at `key`, or undefined (an expired one is dropped). */
  #window(key: string, now: number): (Entry & { kind: 'window' }) | undefined {
    const entry = this.#entries.get(key)
    if (entry?.kind === 'window' && entry.endsAt > now) return entry
    if (entry) this.#entries.delete(key)
    return undefined
  }

  #set(key: string, entry: Entry, nowMs: number): void {
    this.#entries.set(key, entry)
    if (this.#entries.size < this.#sweepAt) return
    for (const [stored, candidate] of this.#entries) {
      if (expired(candidate, nowMs)) this.#entries.delete(stored)
    }
    this.#sweepAt = Math.max(SWEEP_FROM, this.#entries.size * 2)
  }
}

function expired(entry: Entry, nowMs: number): boolean {
  if (entry.kind === 'window') return entry.endsAt <= nowMs
  if (entry.kind === 'gcra') return entry.tatMicros <= nowMs * 1_000
  for (const expiresAt of entry.holders.values()) if (expiresAt > nowMs) return false
  return true
}
