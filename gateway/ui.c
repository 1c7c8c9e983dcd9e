/*
 * ui.c - the web dashboard: its embedded files at /ui/ and its sign-in
 * sessions at /ui/session.
 *
 * Files are matched exactly against the table the build made of web/:
 * no file system is read, so no path a client sends (dots, slashes,
 * encodings) can name anything but one of those files.
 */
#include "gateway/ui.h"
#include "gateway/http.h"

#include <string.h>

const char *const ui_security_headers[] = {
    "content-security-policy",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src "
    "'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri "
    "'none'; form-action 'self'",
    "x-content-type-options",
    "nosniff",
    "referrer-policy",
    "no-referrer",
    "cache-control",
    "no-cache",
    NULL,
};

const struct ui_file *ui_file_find(const char *path)
{
  for(int i = 0; i < ui_files_count; i++)
    if(ui_files[i].path[0] && !strcmp(ui_files[i].path, path))
      return &ui_files[i];
  return NULL;
}

void ui_static(struct req *r)
{
  const struct ui_file *f;
  struct api_error err;

  if(!strcmp(r->path, "/ui")) {
    req_add_header(r, "location", "/ui/");
    req_respond_json(r, 302, "", 0);
    return;
  }
  /* "/ui/" is the index; anything else must be a file of the bundle. */
  f = ui_file_find(r->path[4] ? r->path + 4 : "index.html");
  if(!f) {
    api_error_set(&err, 404, "invalid_request_error", "not_found", NULL, "%s",
                  "No such file in the dashboard.");
    req_respond_error(r, &err);
    return;
  }
  req_add_header(r, "content-type", f->content_type);
  req_respond_json(r, 200, f->bytes, f->len);
}

void ui_session(struct req *r)
{
  struct api_error err;

  api_error_set(&err, 404, "invalid_request_error", "not_found", NULL, "%s",
                "Sessions are not served yet.");
  req_respond_error(r, &err);
}
