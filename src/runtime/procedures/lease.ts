import { SubscriberReplacedError } from '../../errors.js'
import type { Store } from '../../store.js'
import { leaseKeyOf } from './record.js'

/**
 * A runner's tenure of one lease key (`holdfast/procedure-runner/<owner>`): its own, or a silent runner's it took in
 * `resumeAll`. The procedures started under a key run wherever that key is held, so a takeover is one claim per
 * dead runner, and a procedure step costs no lease query: the runner renews every `leaseMs / 3` on one timer.
 *
 * The fence is this process's clock: the store's lease runs at least `leaseMs` from when the claim was sent, so
 * until `deadline` no other runner can hold the key. A save is let through only while a third of the lease is left
 * (else the lease is renewed first); what remains is a save that takes longer than that third to commit, which can
 * land after another runner took the key (it then writes the checkpoint number the new owner writes next).
 */
export class Lease {
  /** The runner whose procedures it fences. */
  readonly owner: string
  readonly key: string
  /** The generation of this tenure: a change of owner bumps it, so a tenure that lapsed never comes back. */
  readonly generation: number
  /** `performance.now()` before which the key is ours. */
  deadline: number
  lost = false
  /** Procedures running under it here; an inherited lease is released when they are done. */
  users = 0
  readonly #controller = new AbortController()
  readonly #store: Store
  readonly #workerId: string
  readonly #leaseMs: number
  #renewing: Promise<void> | undefined

  private constructor(store: Store, owner: string, workerId: string, leaseMs: number, generation: number, sentAt: number) {
    this.#store = store
    this.owner = owner
    this.key = leaseKeyOf(owner)
    this.#workerId = workerId
    this.#leaseMs = leaseMs
    this.generation = generation
    this.deadline = sentAt + leaseMs
  }

  /** Takes `owner`'s key for `workerId`; the holder instead when another runner's lease on it is live. */
  static async claim(store: Store, owner: string, workerId: string, leaseMs: number): Promise<Lease | { holder: string }> {
    const key = leaseKeyOf(owner)
    const sentAt = performance.now()
    const info = await store.events.claimSubscriber(key, workerId, leaseMs)
    if (info.workerId !== workerId) return { holder: info.workerId }
    return new Lease(store, owner, workerId, leaseMs, info.generation, sentAt)
  }

  /** Aborted when the lease is lost. */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** The error of a procedure that may no longer checkpoint. */
  lostError(): SubscriberReplacedError {
    return new SubscriberReplacedError(this.key, this.#workerId, '(another runner)')
  }

  /** Throws unless the key is still this tenure's with a third of the lease left, renewing it first if need be. */
  async fence(): Promise<void> {
    if (!this.lost && performance.now() < this.deadline - this.#leaseMs / 3) return
    if (!this.lost) await this.renew()
    if (this.lost) throw this.lostError()
  }

  /** Claims the key again (one claim in flight at a time); marks the tenure lost if it changed hands meanwhile. */
  renew(): Promise<void> {
    this.#renewing ??= this.#renew().finally(() => (this.#renewing = undefined))
    return this.#renewing
  }

  async #renew(): Promise<void> {
    if (this.lost) return
    const sentAt = performance.now()
    const info = await this.#store.events.claimSubscriber(this.key, this.#workerId, this.#leaseMs)
    if (info.workerId !== this.#workerId || info.generation !== this.generation) this.lose()
    else this.deadline = sentAt + this.#leaseMs
  }

  lose(): void {
    if (this.lost) return
    this.lost = true
    this.#controller.abort(this.lostError())
  }

  /** Ends the tenure and the store's lease, so that another runner may take the key at once. */
  async release(): Promise<void> {
    if (this.lost) return
    this.lose()
    // A renewal in flight would lease the key again after the release.
    await this.#renewing?.catch(() => {})
    await this.#store.events.releaseSubscriber(this.key, this.#workerId)
  }
}
