/**
 * The Holdfast dashboard: a single-page app on `/api/v1`, one hash route per page (`#/events?type=shop%2FOrder`).
 * Live pages refresh every 2 s while shown.
 */
import { askToken, operator } from './api.js'
import { h } from './dom.js'
import { PAGES } from './pages.js'

const LIVE_MS = 2000
const main = document.getElementById('main')!
const nav = document.getElementById('nav')!
const who = document.getElementById('who')!
let generation = 0
let timer: ReturnType<typeof setInterval> | undefined

function showWho(): void {
  const signedIn = sessionStorage.getItem('holdfast.token') !== null
  who.replaceChildren(
    signedIn ? h('span', { class: 'muted' }, `as ${operator()} `) : '',
    h('button', { class: 'secondary small', onclick: () => void askToken('The token is kept in this tab’s session only.').then(showWho) }, signedIn ? 'Change token' : 'Sign in'),
  )
}

function parse(): { name: string; q: URLSearchParams } {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?', 2)
  return { name: path in PAGES ? path : 'overview', q: new URLSearchParams(query) }
}

async function render(): Promise<void> {
  const mine = ++generation
  if (timer !== undefined) clearInterval(timer)
  timer = undefined
  const { name, q } = parse()
  const page = PAGES[name]!
  document.title = `${page.title} · Holdfast`
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('current', a.dataset.page === name)
  const view = h('div', { class: 'view', 'data-page': name }, h('p', { class: 'muted' }, 'Loading…'))
  main.replaceChildren(h('h1', {}, page.title), view)
  const failed = (err: unknown): void => {
    if (mine !== generation) return
    const box = h('div', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err))
    view.querySelector('.error')?.remove()
    view.prepend(box)
  }
  try {
    const live = await page.render({ view, q, reload: () => void render() })
    if (mine !== generation) return
    view.dataset.ready = 'true'
    showWho()
    if (live) {
      let busy = false
      timer = setInterval(() => {
        if (busy || mine !== generation) return
        busy = true
        live()
          .then(() => view.querySelector('.error')?.remove())
          .catch(failed)
          .finally(() => (busy = false))
      }, LIVE_MS)
    }
  } catch (err) {
    failed(err)
    view.dataset.ready = 'true'
  }
}

nav.replaceChildren(...Object.entries(PAGES).map(([name, p]) => h('a', { href: `#/${name}`, 'data-page': name }, p.title)))
window.addEventListener('hashchange', () => void render())
showWho()
void render()
