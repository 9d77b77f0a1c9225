/** DOM helpers: elements built from text (never HTML strings), tables, dialogs, formatting. */

type Child = Node | string | number | null | undefined | false
type Attrs = Record<string, string | number | boolean | undefined | null | ((e: Event) => void)>

/** An element with attributes (`on…` are listeners; `false`/`null`/`undefined` are left out) and text or node children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v)
    else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

/** Appends children, skipping empty ones; strings become text nodes. */
export function append(el: Element, children: Child[]): void {
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c)
}

/** A column of {@link table}: a heading and the cell of a row. */
export interface Column<T> {
  title: string
  cell: (row: T) => Child
  /** Right-aligned figures. */
  num?: boolean
}

/** A table of `rows`; `empty` when there are none; `onRow` makes rows clickable; `rowId` names rows for tests. */
export function table<T>(columns: Column<T>[], rows: readonly T[], o: { empty?: string; onRow?: (row: T) => void; rowId?: (row: T) => string; label?: string } = {}): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, o.empty ?? 'Nothing here.')
  return h(
    'table',
    { 'aria-label': o.label },
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { class: c.num ? 'num' : undefined }, c.title)))),
    h(
      'tbody',
      {},
      ...rows.map((r) => {
        const tr = h('tr', { 'data-row': o.rowId?.(r), class: o.onRow ? 'clickable' : undefined }, ...columns.map((c) => h('td', { class: c.num ? 'num' : undefined }, c.cell(r))))
        if (o.onRow) tr.addEventListener('click', (e) => {
          if (!(e.target instanceof HTMLButtonElement) && !(e.target instanceof HTMLAnchorElement)) o.onRow!(r)
        })
        return tr
      }),
    ),
  )
}

/** A field of {@link ask}. */
export interface Field {
  name: string
  label: string
  type?: 'text' | 'password'
  value?: string
  required?: boolean
  placeholder?: string
}

/**
 * A modal dialog with a message and fields; resolves with the fields' values when confirmed, `null` when cancelled.
 */
export function ask(o: { title: string; message?: Child; fields?: Field[]; confirm: string; danger?: boolean }): Promise<Record<string, string> | null> {
  return new Promise((resolve) => {
    const inputs = (o.fields ?? []).map((f) => h('input', { name: f.name, type: f.type ?? 'text', value: f.value, required: f.required, placeholder: f.placeholder, autocomplete: 'off' }))
    const form = h(
      'form',
      { method: 'dialog' },
      h('h2', {}, o.title),
      o.message === undefined ? null : h('p', {}, o.message),
      ...(o.fields ?? []).map((f, i) => h('label', {}, h('span', {}, f.label), inputs[i]!)),
      h('menu', {}, h('button', { type: 'button', value: 'cancel', class: 'secondary' }, 'Cancel'), h('button', { type: 'submit', value: 'ok', class: o.danger ? 'danger' : undefined }, o.confirm)),
    )
    const dialog = h('dialog', { 'aria-label': o.title }, form)
    let result: Record<string, string> | null = null
    form.addEventListener('submit', () => {
      result = Object.fromEntries((o.fields ?? []).map((f, i) => [f.name, inputs[i]!.value.trim()]))
    })
    form.querySelector('button[value=cancel]')!.addEventListener('click', () => dialog.close())
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve(result)
    })
    document.body.append(dialog)
    dialog.showModal()
    inputs[0]?.focus()
  })
}

/** Shows a passing message at the top of the page. */
export function toast(text: string, kind: 'ok' | 'error' = 'ok'): void {
  const el = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text)
  document.getElementById('toasts')?.append(el)
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000)
}

/** A timestamp (ms) as local date and time. */
export const when = (ms: number | null | undefined): string => (ms === null || ms === undefined || ms === 0 ? '—' : new Date(ms).toLocaleString())

/** A duration in ms as `850 ms`, `12 s`, `3 min`, `2 h`, `4 d`. */
export function age(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 90) return `${Math.round(s)} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  if (s < 172_800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86_400)} d`
}

/** A byte count as `512 B`, `3.1 KiB`, `2.0 MiB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** A content hash shortened for a table (`sha256:b2b8020dd9e2`), the whole in its title. */
export const hash = (h_: string | null): Child => (h_ === null ? '—' : h('code', { title: h_ }, h_.length > 19 ? `${h_.slice(0, 19)}…` : h_))

/** A value as indented JSON in a `<pre>`. */
export const json = (value: unknown): HTMLElement => h('pre', { class: 'json' }, JSON.stringify(value, null, 2))

/** A link to a hash route with query parameters. */
export function link(text: Child, page: string, params: Record<string, string | number | undefined> = {}): HTMLAnchorElement {
  return h('a', { href: route(page, params) }, text)
}

/** `#/page?a=b` from a page and its parameters (undefined ones left out). */
export function route(page: string, params: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return `#/${page}${s ? `?${s}` : ''}`
}

/** A state badge (`active`, `parked`, `poisoned`, …). */
export const badge = (text: string): HTMLElement => h('span', { class: `badge ${text}` }, text)
