/*
 * ui.h - the web dashboard: the files of web/, compiled in
 * (cmake/embed_web.cmake) and served at /ui/, and its sign-in sessions
 * (docs/reference.md, "Dashboard"). Internal to gateway/.
 */
#ifndef SB_GATEWAY_UI_H
#define SB_GATEWAY_UI_H

#include <stddef.h>

/** One file of web/, as the build embedded it. */
struct ui_file {
  const char *path;         /* relative to web/: "index.html", "app.js" */
  const char *content_type; /* from the extension */
  size_t len;
  const char *bytes;
};

/* The generated table (web_gen.c), sorted by path. */
extern const struct ui_file ui_files[];
extern const int ui_files_count;

/** The embedded file at path (exact match, relative to web/), or NULL. */
const struct ui_file *ui_file_find(const char *path);

/* The session cookie's name; its value is UI_SESSION_HEX lower-case hex
 * digits (32 random bytes), and so is the CSRF token. */
#define UI_COOKIE      "sb_session"
#define UI_SESSION_HEX 64

struct req;

/** The headers every /ui answer carries (CSP and friends), as name and
 * value pairs ending with NULL. */
extern const char *const ui_security_headers[];

/** GET /ui (302 to /ui/), /ui/ and /ui/<path>. */
void ui_static(struct req *r);

/** POST, GET and DELETE /ui/session. */
void ui_session(struct req *r);

/**
 * The admin API called with a session cookie and no credential: look the
 * session up off the loop, then call done(r, key_id, csrf) on r's loop,
 * key_id and csrf NULL when r has no valid session; not called when r is
 * gone by then. Returns 0 when the lookup runs; SB_ENOTFOUND when r
 * carries no well-formed session cookie, SB_EIO when the lookup could not
 * start (done is not called either way).
 */
int ui_session_lookup(struct req *r,
                      void (*done)(struct req *r, const char *key_id,
                                   const char *csrf));

/** Grant r the key of a session (key_id; "" for SWITCHBOARD_ADMIN_KEY) if
 * that key may still use the admin API. 0, or 1 after answering 401. */
int ui_session_grant(struct req *r, const char *key_id);

/** 1 when r's X-CSRF-Token equals csrf (compared in constant time). */
int ui_csrf_ok(struct req *r, const char *csrf);

#endif
