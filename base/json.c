#include "base/json.h"

int json_too_deep(const char *s, size_t n, int max_depth)
{
  int depth = 0, in_str = 0;

  for(size_t i = 0; i < n; i++) {
    char c = s[i];

    if(in_str) {
      if(c == '\\')
        i++; /* skip the escaped character, whatever it is */
      else if(c == '"')
        in_str = 0;
    } else if(c == '"') {
      in_str = 1;
    } else if(c == '{' || c == '[') {
      if(++depth > max_depth)
        return 1;
    } else if(c == '}' || c == ']') {
      depth--;
    }
  }
  return 0;
}
