/** The dashboard's pages: each renders into a view from the API and may return a refresher run every 2 s. */
import { get, post, qs, seg, type CheckpointView, type DocumentDetail, type DocumentView, type EventPage, type EventStats, type EventView, type PackageMeta, type PackageRoute, type PoisonAudit, type PoisonKey, type Procedure, type RouteChange, type Subscriber, type SubscriberPage, type Timeline, type TracePage } from './api.js'
import { age, ask, badge, bytes, h, hash, json, link, route, table, toast, when, type Column } from './dom.js'

/** What a page is given: its view, the hash route's parameters and a way to render it again. */
export interface PageContext {
  view: HTMLElement
  q: URLSearchParams
  reload: () => void
}

/** A page: a title for the navigation and a renderer; a returned function is the live refresh. */
export interface Page {
  title: string
  render: (ctx: PageContext) => Promise<(() => Promise<void>) | void>
}

/** Replaces an element's children. */
const fill = (el: Element, ...children: (Node | string)[]): void => el.replaceChildren(...children)

const card = (label: string, value: string | number, note?: string, test?: string): HTMLElement =>
  h('div', { class: 'card', 'data-card': test }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, String(value)), note ? h('div', { class: 'note' }, note) : null)

/** Runs a change, says how it went, and renders the page again when it worked. */
async function change(ctx: PageContext, what: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run()
    toast(what)
    ctx.reload()
  } catch (err) {
    toast(err instanceof Error ? err.message : String(err), 'error')
  }
}

/** The number of a list page, `N+` when there are more. */
const counted = (n: number, more: boolean): string => (more ? `${n}+` : String(n))

// ── overview ────────────────────────────────────────────────────────────────────────────────────────────────────────

const samples: { at: number; total: number }[] = []

/** Events per second over the last 10 s of samples (null until two samples). */
function writeRate(total: number): number | null {
  const now = Date.now()
  samples.push({ at: now, total })
  while (samples.length > 2 && now - samples[0]!.at > 10_000) samples.shift()
  const first = samples[0]!
  return samples.length < 2 || now === first.at ? null : ((total - first.total) * 1000) / (now - first.at)
}

const overview: Page = {
  title: 'Overview',
  async render(ctx) {
    const live = h('div', { class: 'cards', id: 'live-cards' })
    const stores = h('div', { class: 'cards', id: 'store-cards' })
    const types = h('section', {})
    const behind = h('section', {})
    fill(ctx.view, h('h2', {}, 'Now'), live, h('h2', {}, 'Stored'), stores, h('div', { class: 'columns' }, types, behind))
    const [routes, packages, traces, procedures, docs] = await Promise.all([
      get<PackageRoute[]>('/packages/routes'),
      get<PackageMeta[]>('/packages'),
      get<TracePage>('/traces?limit=500'),
      get<{ procedures: Procedure[]; nextAfter: string | null }>('/procedures?limit=500'),
      get<{ documents: DocumentView[]; nextAfter: string | null }>('/docs?limit=500'),
    ])
    const poisoned = procedures.procedures.filter((p) => p.status === 'poisoned').length
    fill(
      stores,
      card('Packages', packages.length, `${routes.length} routed types`, 'packages'),
      card('Checkpoint traces', counted(traces.traces.length, traces.nextAfter !== null), `${traces.traces.reduce((n, t) => n + t.count, 0)} checkpoints`, 'traces'),
      card('Procedures', counted(procedures.procedures.length, procedures.nextAfter !== null), `${poisoned} poisoned`, 'procedures'),
      card('Automerge documents', counted(docs.documents.length, docs.nextAfter !== null), bytes(docs.documents.reduce((n, d) => n + d.sizes.changes + d.sizes.document, 0)), 'docs'),
    )
    const refresh = async (): Promise<void> => {
      const [stats, subs, poison] = await Promise.all([get<EventStats>('/events/stats'), get<SubscriberPage>('/subscribers?limit=1000'), get<PoisonKey[]>('/poison')])
      const rate = writeRate(stats.total)
      const subscriptions = subs.subscribers.filter((s) => s.kind === 'subscription')
      const lagging = subscriptions.filter((s) => s.positionsBehind > 0).sort((a, b) => b.positionsBehind - a.positionsBehind)
      const parked = subscriptions.filter((s) => s.state === 'parked').length
      fill(
        live,
        card('Events', stats.total, stats.complete ? `head at ${subs.headPosition}` : 'counting…', 'events'),
        card('Write rate', rate === null ? '—' : `${rate.toFixed(1)}/s`, 'events per second, last 10 s', 'rate'),
        card('Subscribers behind', lagging.length, `of ${subscriptions.length}; most ${lagging[0]?.positionsBehind ?? 0} behind`, 'behind'),
        card('Parked', parked, parked ? 'need an operator' : 'none', 'parked'),
        card('Poison held', poison.length, poison.length ? `oldest ${age(Math.max(...poison.map((p) => p.ageMs)))}` : 'none', 'poison'),
      )
      fill(
        types,
        h('h3', {}, 'Events by aggregate type'),
        table(
          [
            { title: 'type', cell: (t) => link(t.aggregatorType, 'events', { type: t.aggregatorType }) },
            { title: 'events', cell: (t) => t.count, num: true },
            { title: 'last position', cell: (t) => t.lastPosition, num: true },
            { title: 'last written', cell: (t) => when(t.lastAt) },
          ],
          stats.byType,
          { empty: 'No events yet.' },
        ),
      )
      fill(
        behind,
        h('h3', {}, 'Most behind'),
        table(
          [
            { title: 'subscriber', cell: (s) => link(s.key, 'subscribers') },
            { title: 'state', cell: (s) => badge(s.state) },
            { title: 'behind', cell: (s) => s.positionsBehind, num: true },
            { title: 'last ack', cell: (s) => age(s.lastAckAgeMs), num: true },
          ],
          lagging.slice(0, 8),
          { empty: 'Every subscriber is caught up.' },
        ),
      )
    }
    await refresh()
    return refresh
  },
}

// ── events ──────────────────────────────────────────────────────────────────────────────────────────────────────────

const FILTERS = ['type', 'id', 'name', 'routingKey'] as const

function payload(title: string, p: EventView['data']): HTMLElement {
  return h(
    'div',
    { class: 'payload' },
    h('h4', {}, `${title} `, h('span', { class: 'muted' }, `${p.encoding}, ${bytes(p.bytes)}`)),
    p.encoding === 'json' ? json(p.value) : h('pre', { class: p.encoding }, String(p.value)),
  )
}

const events: Page = {
  title: 'Events',
  async render(ctx) {
    const { q } = ctx
    const size = Math.min(1000, Math.max(1, Number(q.get('size') ?? 25) || 25))
    const filter = Object.fromEntries(FILTERS.map((f) => [f, q.get(f) ?? ''])) as Record<(typeof FILTERS)[number], string>
    const args = q.has('before') ? { last: size, before: q.get('before') } : q.has('end') ? { last: size } : { first: size, after: q.get('after') }
    const form = h(
      'form',
      { class: 'filters', 'aria-label': 'filters' },
      ...FILTERS.map((f) => h('label', {}, h('span', {}, f === 'id' ? 'aggregate id' : f === 'routingKey' ? 'routing key' : f), h('input', { name: f, value: filter[f], placeholder: f === 'type' ? 'shop/Order' : '' }))),
      h('label', {}, h('span', {}, 'page size'), h('select', { name: 'size' }, ...[...new Set([size, 10, 25, 50, 100])].sort((a, b) => a - b).map((n) => h('option', { value: n, selected: n === size }, String(n))))),
      h('button', { type: 'submit' }, 'Filter'),
      h('a', { href: route('events'), class: 'button secondary' }, 'Clear'),
    )
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const data = new FormData(form)
      location.hash = route('events', { ...Object.fromEntries(FILTERS.map((f) => [f, String(data.get(f) ?? '').trim()])), size: String(data.get('size')) })
    })
    const detail = h('section', { class: 'detail', id: 'event-detail' }, h('p', { class: 'muted' }, 'Select an event to see its payload.'))
    fill(ctx.view, form, h('p', { class: 'muted' }, 'Loading…'))
    const page = await get<EventPage>(`/events${qs({ ...filter, ...args })}`)
    const keep = { ...filter, size: size === 25 ? undefined : size }
    const { pageInfo: p } = page
    const nav = h(
      'nav',
      { class: 'pager', 'aria-label': 'pages' },
      h('a', { href: route('events', keep), class: 'button secondary', 'aria-disabled': !p.hasPreviousPage }, '« First'),
      p.hasPreviousPage && p.startCursor ? h('a', { href: route('events', { ...keep, before: p.startCursor }), class: 'button', 'data-page': 'previous' }, '‹ Previous') : h('span', { class: 'button disabled' }, '‹ Previous'),
      p.hasNextPage && p.endCursor ? h('a', { href: route('events', { ...keep, after: p.endCursor }), class: 'button', 'data-page': 'next' }, 'Next ›') : h('span', { class: 'button disabled' }, 'Next ›'),
      h('a', { href: route('events', { ...keep, end: 1 }), class: 'button secondary', 'aria-disabled': !p.hasNextPage }, 'Last »'),
    )
    const show = (e: EventView): void => {
      fill(
        detail,
        h('h3', {}, `${e.name} `, h('span', { class: 'muted' }, `#${e.position}`)),
        h('dl', {}, ...(
          [
            ['event id', e.id],
            ['aggregate', `${e.aggregatorType} / ${e.aggregatorId} v${e.version}`],
            ['routing key', e.routingKey ?? '—'],
            ['written', when(e.timestamp)],
            ['cursor', e.cursor],
          ] as const
        ).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
        payload('Data', e.data),
        e.metadata.bytes > 0 ? payload('Metadata', e.metadata) : h('p', { class: 'muted' }, 'No metadata.'),
      )
    }
    const columns: Column<EventView>[] = [
      { title: '#', cell: (e) => e.position, num: true },
      { title: 'written', cell: (e) => when(e.timestamp) },
      { title: 'type', cell: (e) => e.aggregatorType },
      { title: 'aggregate', cell: (e) => e.aggregatorId },
      { title: 'v', cell: (e) => e.version, num: true },
      { title: 'name', cell: (e) => e.name },
      { title: 'routing key', cell: (e) => e.routingKey ?? '' },
      { title: 'size', cell: (e) => bytes(e.data.bytes), num: true },
    ]
    fill(ctx.view, form, nav, h('div', { class: 'columns wide-left' }, table(columns, page.events, { label: 'events', empty: 'No events match.', onRow: show, rowId: (e) => e.id }), detail))
  },
}

// ── subscribers ─────────────────────────────────────────────────────────────────────────────────────────────────────

async function resume(ctx: PageContext, s: Subscriber, skip: boolean): Promise<void> {
  const v = await ask({
    title: `${skip ? 'Skip the event and resume' : 'Resume'} ${s.key}`,
    message: skip
      ? `Event ${s.parked?.eventId ?? ''} is acknowledged without being handled; delivery goes on after it.`
      : `Event ${s.parked?.eventId ?? ''} is delivered again (last error: ${s.parked?.error ?? ''}).`,
    fields: [{ name: 'reason', label: 'Reason', placeholder: 'why (recorded)' }],
    confirm: skip ? 'Skip and resume' : 'Resume',
    danger: skip,
  })
  if (v) await change(ctx, `${s.key} ${skip ? 'skipped its event and ' : ''}resumed`, () => post(`/subscribers/${seg(s.key)}/resume`, { ...(v.reason ? { reason: v.reason } : {}), skip }))
}

const subscribers: Page = {
  title: 'Subscribers',
  async render(ctx) {
    const head = h('p', { class: 'muted' })
    const subs = h('section', {})
    const runners = h('section', {})
    fill(ctx.view, head, subs, runners)
    const columns: Column<Subscriber>[] = [
      { title: 'key', cell: (s) => h('code', {}, s.key) },
      { title: 'state', cell: (s) => badge(s.state) },
      { title: 'worker', cell: (s) => s.workerId ?? '—' },
      { title: 'position', cell: (s) => s.position, num: true },
      { title: 'behind', cell: (s) => h('span', { 'data-field': 'behind' }, String(s.positionsBehind)), num: true },
      { title: 'lag', cell: (s) => h('span', { 'data-field': 'lag' }, s.lag === null ? '—' : String(s.lag)), num: true },
      { title: 'last ack', cell: (s) => h('span', { 'data-field': 'ack-age' }, age(s.lastAckAgeMs)), num: true },
      { title: 'lease', cell: (s) => (s.leaseExpiresAt && s.leaseExpiresAt > Date.now() ? `${age(s.leaseExpiresAt - Date.now())} left` : '—') },
      {
        title: 'parked',
        cell: (s) =>
          s.parked
            ? h(
                'div',
                { class: 'parked' },
                h('div', {}, h('strong', {}, s.parked.error)),
                h('div', { class: 'muted' }, `event ${s.parked.eventId}, ${s.parked.attempts} attempt(s), ${when(s.parked.parkedAt)}`),
                h('span', { class: 'actions' }, h('button', { onclick: () => void resume(ctx, s, false) }, 'Resume…'), h('button', { class: 'danger', onclick: () => void resume(ctx, s, true) }, 'Skip…')),
              )
            : '',
      },
    ]
    const refresh = async (): Promise<void> => {
      const page = await get<SubscriberPage>('/subscribers?limit=1000')
      fill(head, `Head position ${page.headPosition}; figures update every 2 s. `, page.nextAfter ? 'Showing the first 1,000.' : '')
      const of = (kind: Subscriber['kind']): Subscriber[] => page.subscribers.filter((s) => s.kind === kind)
      fill(subs, h('h3', {}, 'Subscriptions'), table(columns, of('subscription'), { label: 'subscriptions', empty: 'No subscriptions.', rowId: (s) => s.key }))
      fill(runners, h('h3', {}, 'Procedure runner leases'), table(columns.slice(0, 3).concat(columns.slice(6, 8)), of('procedure-runner'), { label: 'runners', empty: 'No runners.', rowId: (s) => s.key }))
    }
    await refresh()
    return refresh
  },
}

// ── poison ──────────────────────────────────────────────────────────────────────────────────────────────────────────

async function clear(ctx: PageContext, p: PoisonKey): Promise<void> {
  const v = await ask({
    title: `Clear poison key ${p.key}?`,
    message: `Held by ${p.token} for ${age(p.ageMs)}. Work waiting on this key may run again. The clear is recorded in the audit trail.`,
    fields: [{ name: 'reason', label: 'Reason', required: true, placeholder: 'fixed by hand, …' }],
    confirm: 'Clear key',
    danger: true,
  })
  if (v) await change(ctx, `${p.key} cleared`, () => post(`/poison/${seg(p.key)}/clear`, { reason: v.reason }))
}

const poison: Page = {
  title: 'Poison',
  async render(ctx) {
    const prefix = ctx.q.get('prefix') ?? ''
    const form = h('form', { class: 'filters' }, h('label', {}, h('span', {}, 'prefix'), h('input', { name: 'prefix', value: prefix, placeholder: 'table/' })), h('button', { type: 'submit' }, 'Filter'))
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      location.hash = route('poison', { prefix: String(new FormData(form).get('prefix') ?? '').trim() })
    })
    const [held, audit] = await Promise.all([get<PoisonKey[]>(`/poison${qs({ prefix })}`), get<PoisonAudit[]>('/poison/audit')])
    fill(
      ctx.view,
      form,
      h('h3', {}, 'Held keys'),
      table(
        [
          { title: 'key', cell: (p) => h('code', {}, p.key) },
          { title: 'held by', cell: (p) => p.token },
          { title: 'since', cell: (p) => when(p.createdAt) },
          { title: 'age', cell: (p) => age(p.ageMs), num: true },
          { title: '', cell: (p) => h('button', { class: 'danger', onclick: () => void clear(ctx, p) }, 'Clear…') },
        ],
        held,
        { label: 'held keys', empty: 'No poison keys held.', rowId: (p) => p.key },
      ),
      h('h3', {}, 'Audit trail'),
      table(
        [
          { title: 'cleared', cell: (a) => when(a.at) },
          { title: 'key', cell: (a) => h('code', {}, a.key) },
          { title: 'was held by', cell: (a) => a.token },
          { title: 'by', cell: (a) => a.by },
          { title: 'reason', cell: (a) => a.reason ?? '—' },
        ],
        [...audit].sort((a, b) => b.at - a.at),
        { label: 'audit trail', empty: 'Nothing cleared yet.', rowId: (a) => `${a.key}@${a.at}` },
      ),
    )
  },
}

// ── packages ────────────────────────────────────────────────────────────────────────────────────────────────────────

async function rollback(ctx: PageContext, r: PackageRoute): Promise<void> {
  const v = await ask({
    title: `Roll back ${r.workflowType}?`,
    message: `The route goes back to the package it pointed at before ${r.contentHash.slice(0, 19)}…`,
    fields: [{ name: 'reason', label: 'Reason', placeholder: 'why (recorded in the route history)' }],
    confirm: 'Roll back',
    danger: true,
  })
  if (!v) return
  await change(ctx, `${r.workflowType} rolled back`, async () => {
    await post(`/packages/${seg(r.workflowType)}/rollback`, v.reason ? { reason: v.reason } : {})
    location.hash = route('packages', { type: r.workflowType })
  })
}

async function routeTo(ctx: PageContext, p: PackageMeta): Promise<void> {
  const v = await ask({
    title: `Route ${p.workflowType} to this package?`,
    message: `New work of ${p.workflowType} runs ${p.contentHash}.`,
    fields: [{ name: 'reason', label: 'Reason', placeholder: 'why (recorded in the route history)' }],
    confirm: 'Route',
  })
  if (!v) return
  await change(ctx, `${p.workflowType} routed`, async () => {
    await post(`/packages/${seg(p.workflowType)}/route`, { contentHash: p.contentHash, ...(v.reason ? { reason: v.reason } : {}) })
    location.hash = route('packages', { type: p.workflowType })
  })
}

const packages: Page = {
  title: 'Packages',
  async render(ctx) {
    const type = ctx.q.get('type')
    const [routes, all, history] = await Promise.all([get<PackageRoute[]>('/packages/routes'), get<PackageMeta[]>('/packages'), type ? get<RouteChange[]>(`/packages/${seg(type)}/history`) : Promise.resolve(null)])
    fill(
      ctx.view,
      h('h3', {}, 'Routes'),
      table(
        [
          { title: 'workflow type', cell: (r) => link(r.workflowType, 'packages', { type: r.workflowType }) },
          { title: 'package', cell: (r) => hash(r.contentHash) },
          { title: 'since', cell: (r) => when(r.updatedAt) },
          { title: '', cell: (r) => h('span', { class: 'actions' }, link('History', 'packages', { type: r.workflowType }), h('button', { class: 'danger', onclick: () => void rollback(ctx, r) }, 'Roll back…')) },
        ],
        routes,
        { label: 'routes', empty: 'No routes.', rowId: (r) => r.workflowType },
      ),
      ...(history
        ? [
            h('h3', { id: 'history' }, `History of ${type ?? ''}`),
            table(
              [
                { title: 'v', cell: (c) => c.version, num: true },
                { title: 'at', cell: (c) => when(c.at) },
                { title: 'action', cell: (c) => badge(c.action) },
                { title: 'to', cell: (c) => hash(c.contentHash) },
                { title: 'from', cell: (c) => hash(c.previousHash) },
                { title: 'by', cell: (c) => c.by ?? '—' },
                { title: 'reason', cell: (c) => c.reason ?? '—' },
              ],
              [...history].reverse(),
              { label: 'history', empty: 'No changes recorded.', rowId: (c) => String(c.version) },
            ),
          ]
        : []),
      h('h3', {}, 'Deployed packages'),
      table(
        [
          { title: 'workflow type', cell: (p) => p.workflowType },
          { title: 'package', cell: (p) => hash(p.contentHash) },
          { title: 'deployed', cell: (p) => when(p.deployedAt) },
          {
            title: '',
            cell: (p) => (routes.some((r) => r.workflowType === p.workflowType && r.contentHash === p.contentHash) ? badge('routed') : h('button', { class: 'secondary small', onclick: () => void routeTo(ctx, p) }, 'Route here…')),
          },
        ],
        all,
        { label: 'packages', empty: 'No packages deployed.', rowId: (p) => p.contentHash },
      ),
    )
  },
}

// ── checkpoints ─────────────────────────────────────────────────────────────────────────────────────────────────────

const TIMELINE_PAGE = 50

async function timeline(ctx: PageContext, trace: string): Promise<void> {
  const offset = Math.max(0, Number(ctx.q.get('offset') ?? 0) || 0)
  const selected = ctx.q.get('checkpoint')
  const [t, cp] = await Promise.all([get<Timeline>(`/traces/${seg(trace)}${qs({ offset, limit: TIMELINE_PAGE })}`), selected ? get<CheckpointView>(`/checkpoints/${seg(selected)}`) : Promise.resolve(null)])
  const at = (o: number): string => route('checkpoints', { trace, offset: o || undefined })
  fill(
    ctx.view,
    h('p', {}, link('‹ All traces', 'checkpoints'), ` · ${t.total} checkpoint(s), oldest first`),
    h(
      'div',
      { class: 'columns' },
      h(
        'section',
        {},
        h(
          'ol',
          { class: 'timeline', start: offset + 1, 'aria-label': 'timeline' },
          ...t.checkpoints.map((c) =>
            h(
              'li',
              { class: c.id === selected ? 'selected' : undefined, 'data-checkpoint': c.id },
              h('a', { href: route('checkpoints', { trace, offset: offset || undefined, checkpoint: c.id }) }, h('strong', {}, c.id)),
              h('div', { class: 'muted' }, `${when(c.createdAt)}${c.parentId ? ` · parent ${c.parentId}` : ''}`),
              c.metadata && typeof c.metadata === 'object' && Object.keys(c.metadata).length ? h('code', { class: 'meta' }, JSON.stringify(c.metadata)) : null,
            ),
          ),
        ),
        h(
          'nav',
          { class: 'pager' },
          offset > 0 ? h('a', { class: 'button', href: at(Math.max(0, offset - TIMELINE_PAGE)) }, '‹ Earlier') : null,
          offset + t.checkpoints.length < t.total ? h('a', { class: 'button', href: at(offset + TIMELINE_PAGE) }, 'Later ›') : null,
        ),
      ),
      h(
        'section',
        { class: 'detail', id: 'checkpoint-detail' },
        cp
          ? h('div', {}, h('h3', {}, cp.id), h('p', { class: 'muted' }, `${when(cp.createdAt)} · parent ${cp.parentId ?? 'none'}`), h('h4', {}, 'State'), json(cp.state), h('h4', {}, 'Metadata'), json(cp.metadata))
          : h('p', { class: 'muted' }, 'Select a checkpoint to see its state.'),
      ),
    ),
  )
}

const checkpoints: Page = {
  title: 'Checkpoints',
  async render(ctx) {
    const trace = ctx.q.get('trace')
    if (trace) return timeline(ctx, trace)
    const after = ctx.q.get('after') ?? undefined
    const page = await get<TracePage>(`/traces${qs({ after, limit: 100 })}`)
    fill(
      ctx.view,
      table(
        [
          { title: 'trace', cell: (t) => link(t.traceId, 'checkpoints', { trace: t.traceId }) },
          { title: 'checkpoints', cell: (t) => t.count, num: true },
          { title: 'latest', cell: (t) => when(t.latestAt) },
        ],
        page.traces,
        { label: 'traces', empty: 'No checkpoint traces.', rowId: (t) => t.traceId, onRow: (t) => (location.hash = route('checkpoints', { trace: t.traceId })) },
      ),
      h('nav', { class: 'pager' }, after ? h('a', { class: 'button secondary', href: route('checkpoints') }, '« First') : null, page.nextAfter ? h('a', { class: 'button', href: route('checkpoints', { after: page.nextAfter }) }, 'Next ›') : null),
    )
  },
}

// ── procedures ──────────────────────────────────────────────────────────────────────────────────────────────────────

const STATUSES = ['running', 'done', 'failed', 'poisoned'] as const

const procedures: Page = {
  title: 'Procedures',
  async render(ctx) {
    const status = ctx.q.get('status') ?? ''
    const after = ctx.q.get('after') ?? undefined
    const id = ctx.q.get('id')
    const select = h('select', { name: 'status', 'aria-label': 'status' }, h('option', { value: '' }, 'any status'), ...STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)))
    select.addEventListener('change', () => (location.hash = route('procedures', { status: select.value })))
    const [page, one] = await Promise.all([get<{ procedures: Procedure[]; nextAfter: string | null }>(`/procedures${qs({ status, after, limit: 100 })}`), id ? get<Procedure>(`/procedures/${seg(id)}`) : Promise.resolve(null)])
    fill(
      ctx.view,
      h('form', { class: 'filters' }, h('label', {}, h('span', {}, 'status'), select)),
      h(
        'div',
        { class: 'columns wide-left' },
        h(
          'section',
          {},
          table(
            [
              { title: 'id', cell: (p) => h('code', {}, p.id) },
              { title: 'type', cell: (p) => p.type },
              { title: 'status', cell: (p) => badge(p.status) },
              { title: 'step', cell: (p) => (p.errorStep ? `${p.errorStep} (failed)` : p.step) },
              { title: 'error', cell: (p) => p.error ?? '' },
              { title: 'keys', cell: (p) => p.keys.join(', ') },
              { title: 'updated', cell: (p) => when(p.updatedAt) },
            ],
            page.procedures,
            { label: 'procedures', empty: 'No procedures.', rowId: (p) => p.id, onRow: (p) => (location.hash = route('procedures', { status, after, id: p.id })) },
          ),
          h('nav', { class: 'pager' }, after ? h('a', { class: 'button secondary', href: route('procedures', { status }) }, '« First') : null, page.nextAfter ? h('a', { class: 'button', href: route('procedures', { status, after: page.nextAfter }) }, 'Next ›') : null),
        ),
        h(
          'section',
          { class: 'detail', id: 'procedure-detail' },
          one
            ? h('div', {}, h('h3', {}, `${one.type} ${one.id}`), h('p', {}, badge(one.status), ` runner ${one.runnerId}, started ${when(one.startedAt)}`), one.error ? h('p', { class: 'error' }, one.error) : null, h('h4', {}, 'State'), json(one.state), h('h4', {}, 'Input'), json(one.input))
            : h('p', { class: 'muted' }, 'Select a procedure to see its state.'),
        ),
      ),
    )
  },
}

// ── documents ───────────────────────────────────────────────────────────────────────────────────────────────────────

const docs: Page = {
  title: 'Documents',
  async render(ctx) {
    const after = ctx.q.get('after') ?? undefined
    const id = ctx.q.get('id')
    const [page, one] = await Promise.all([get<{ documents: DocumentView[]; nextAfter: string | null }>(`/docs${qs({ after, limit: 100 })}`), id ? get<DocumentDetail>(`/docs/${seg(id)}`) : Promise.resolve(null)])
    fill(
      ctx.view,
      h(
        'div',
        { class: 'columns wide-left' },
        h(
          'section',
          {},
          table(
            [
              { title: 'document', cell: (d) => h('code', {}, d.documentId) },
              { title: 'changes', cell: (d) => bytes(d.sizes.changes), num: true },
              { title: 'snapshot', cell: (d) => bytes(d.sizes.document), num: true },
              { title: 'sync states', cell: (d) => bytes(d.sizes.syncStates), num: true },
              { title: 'peers', cell: (d) => d.peers.length, num: true },
            ],
            page.documents,
            { label: 'documents', empty: 'No Automerge documents.', rowId: (d) => d.documentId, onRow: (d) => (location.hash = route('docs', { after, id: d.documentId })) },
          ),
          h('nav', { class: 'pager' }, after ? h('a', { class: 'button secondary', href: route('docs') }, '« First') : null, page.nextAfter ? h('a', { class: 'button', href: route('docs', { after: page.nextAfter }) }, 'Next ›') : null),
        ),
        h(
          'section',
          { class: 'detail', id: 'doc-detail' },
          one
            ? h(
                'div',
                {},
                h('h3', {}, one.documentId),
                h('p', {}, `${one.changes} change(s); peers: ${one.peers.join(', ') || 'none'}`),
                one.lastChange ? h('p', { class: 'muted' }, `last change “${one.lastChange.message ?? ''}” by ${one.lastChange.actor.slice(0, 8)}… at ${when(one.lastChange.time * 1000)}`) : null,
              )
            : h('p', { class: 'muted' }, 'Select a document for its history.'),
        ),
      ),
    )
  },
}

/** The pages by route name, in navigation order. */
export const PAGES: Record<string, Page> = { overview, events, subscribers, poison, packages, checkpoints, procedures, docs }
