/*
 * adapters.c - the provider kinds built into this binary.
 */
#include "providers/adapter.h"
#include "providers/anthropic.h"
#include "providers/bedrock.h"
#include "providers/cohere.h"
#include "providers/gemini.h"
#include "providers/ollama.h"

#include <string.h>

/* One line per adapter; each providers/<kind>.h declares its table.
 * Adding an adapter: see docs/adapters.md (add exactly one line here). */
static const struct prov_adapter *const adapters[] = {
    &prov_ollama_adapter,    &prov_gemini_adapter,  &prov_cohere_adapter,
    &prov_anthropic_adapter, &prov_bedrock_adapter, NULL,
};

const struct prov_adapter *prov_adapter_find(const char *kind)
{
  for(size_t i = 0; adapters[i]; i++)
    if(!strcmp(adapters[i]->kind, kind))
      return adapters[i];
  return NULL;
}

const struct prov_adapter *prov_adapter_of(const struct prov *p)
{
  if(p->kind == PROV_ADAPTER)
    return p->adapter;
  return p->kind == PROV_OPENAI ? &prov_openai_adapter : NULL;
}
