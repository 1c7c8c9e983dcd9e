/*
 * conv.h - conversations kept by the gateway (tables conversations and
 * conversation_items): what the OpenAI Conversations API serves and what
 * every inbound API continues with a conversation id.
 *
 * An item is stored in the shape of an OpenAI Responses item (a message
 * with input_text/output_text parts, function_call, function_call_output,
 * reasoning, ...), the shape the Conversations API returns, with the
 * provider and model that produced it (NULL for the client's own items),
 * so that a turn on another provider knows where provider-specific state
 * came from.
 *
 * Writes go through the writer queue (never block). Reads are BLOCKING
 * (a thread pool) and see every write submitted before they began,
 * committed yet or not (read-your-writes: a fast agent's next turn always
 * finds the last one).
 */
#ifndef SB_STORE_CONV_H
#define SB_STORE_CONV_H

#include <stddef.h>
#include <stdint.h>

struct store;

struct store_conv {
  char *id;           /* "conv_" + hex */
  char *key_id;       /* the owner; NULL: made without a key */
  char *metadata;     /* JSON object text ("{}" when none) */
  int64_t created_at; /* unix seconds */
  int64_t updated_at;
};

struct store_conv_item {
  char *id; /* the item's own id (msg_…, fc_…, rs_…): unique */
  char *conv_id;
  int64_t seq;    /* order in the conversation; assigned on append */
  char *item;     /* the Responses item, JSON text, its "id" included */
  char *provider; /* what produced it; NULL: the client */
  char *model;
  int64_t created_at;
};

void store_conv_free(struct store_conv *c);
void store_convs_free(struct store_conv *c, int n);
void store_conv_item_free(struct store_conv_item *it);
void store_conv_items_free(struct store_conv_item *it, int n);

/** Queue an insert, or a replace of its metadata and updated_at (c
 * taken, even on failure). SB_EAGAIN when the queue is full. */
int store_conv_put(struct store *st, struct store_conv *c);

/** Queue the deletion of conversation id and all its items. */
int store_conv_delete(struct store *st, const char *id);

/** Queue n items (taken, the array too) appended to conv_id in order,
 * after its last one, and its updated_at set to now. */
int store_conv_append(struct store *st, const char *conv_id,
                      struct store_conv_item *items, int n);

/** Queue the deletion of one item. */
int store_conv_item_delete(struct store *st, const char *conv_id,
                           const char *item_id);

/** A conversation: 0 with *out (caller frees), SB_ENOTFOUND, SB_EDB. */
int store_conv_get(struct store *st, const char *id, struct store_conv **out);

/** What a listing returns. */
struct store_page {
  const char *after; /* an id: start after it; NULL: from the start */
  int limit;         /* 1..1000 */
  int desc;          /* newest first */
};

/**
 * Items of conv_id in order (seq ascending, or descending with desc),
 * at most limit after the item after; *has_more when more follow. 0,
 * SB_ENOTFOUND (no such conversation, or after is not one of its items),
 * SB_EDB.
 */
int store_conv_items(struct store *st, const char *conv_id,
                     const struct store_page *pg, struct store_conv_item **out,
                     int *n, int *has_more);

/** Every item of conv_id in order (the history a turn continues): 0,
 * SB_ENOTFOUND (no such conversation), SB_EDB. */
int store_conv_items_all(struct store *st, const char *conv_id,
                         struct store_conv_item **out, int *n);

/** One item of conv_id: 0, SB_ENOTFOUND, SB_EDB. */
int store_conv_item_get(struct store *st, const char *conv_id,
                        const char *item_id, struct store_conv_item **out);

/** Conversations of key_id (NULL: every one), by created_at, paged as
 * store_conv_items. */
int store_convs_list(struct store *st, const char *key_id,
                     const struct store_page *pg, struct store_conv **out,
                     int *n, int *has_more);

/** A summary of a conversation's oldest items (gateway/conv_turn.c). */
struct store_conv_summary {
  char *conv_id;
  char *cut_item; /* the id of the last item it covers */
  char *summary;
  char *model; /* what wrote it ("provider/model" or a route), or NULL */
  int64_t created_at;
};

void store_conv_summary_free(struct store_conv_summary *s);

/** Queue a summary (taken, even on failure), replacing one of the same
 * conversation and cut. Deleted with its conversation. */
int store_conv_summary_put(struct store *st, struct store_conv_summary *s);

/** The summary of conv_id whose cut is cut_item: 0 with *out (caller
 * frees), SB_ENOTFOUND, SB_EDB. */
int store_conv_summary_get(struct store *st, const char *conv_id,
                           const char *cut_item,
                           struct store_conv_summary **out);

#endif
