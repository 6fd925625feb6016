/*
 * registry.c - the one table of extensions. Adding an extension: its own file under ext/ and
 * one line here.
 */
#include <string.h>

#include "ext/ext.h"

#define MATCH(n) extern const struct pf_ext pf_match_##n;
#define TARGET(n) extern const struct pf_ext pf_target_##n;
#include "ext/registry.def"
#undef MATCH
#undef TARGET

const struct pf_ext *const pf_ext_registry[] = {
#define MATCH(n) &pf_match_##n,
#define TARGET(n) &pf_target_##n,
#include "ext/registry.def"
#undef MATCH
#undef TARGET
	NULL,
};

const struct pf_ext *pf_ext_find(const char *name, enum pf_ext_kind kind)
{
	for (const struct pf_ext *const *e = pf_ext_registry; *e; e++)
		if ((*e)->kind == kind && strcmp((*e)->name, name) == 0)
			return *e;
	return NULL;
}
