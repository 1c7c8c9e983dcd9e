#include "codec/canon.h"

void canon_usage_init(struct canon_usage *u)
{
  u->prompt_tokens = -1;
  u->completion_tokens = -1;
  u->cached_tokens = -1;
  u->reasoning_tokens = -1;
}
