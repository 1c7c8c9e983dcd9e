// The dashboard's pages, in the order the navigation lists them. Each is
// a module whose default export is a page:
//   { id, title, mount(root, ctx), unmount?() }
// mount() builds the page inside root (an empty <section>, labelled by
// the page's <h1> it must create with id `${id}-title`) and may be async;
// ctx is the shell's (app.js): ctx.params (URLSearchParams of the hash's
// query), ctx.navigate(id, params), ctx.signedOut(message),
// ctx.session ({name, csrf_token, read_only?}) and ctx.failed(e, node)
// (shows an ApiError in node, or ends the session on a 401).
// unmount() stops what mount() started (timers, live tails).
//
// The keys page is the exception: its markup is in
// index.html (id 'keys', static: true) for historical reasons.
import overview from './overview.js';
import usage from './usage.js';
import requests from './requests.js';
import providers from './providers.js';
import routes from './routes.js';
import mcp from './mcp.js';
import conversations from './conversations.js';

export const pages = [
  overview,
  usage,
  requests,
  { id: 'keys', title: 'Keys', static: true },
  providers,
  routes,
  mcp,
  conversations,
];

/** The page with this id, or undefined. */
export function pageById(id) {
  return pages.find((p) => p.id === id);
}
