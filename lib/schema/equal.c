/* JSON equality for enum, const and uniqueItems: numbers by value (1 and
 * 1.0 are equal), objects whatever their key order. */
#include <string.h>

#include "schema_impl.h"

static const cJSON *member(const cJSON *object, const char *name)
{
	for (const cJSON *m = object->child; m; m = m->next)
		if (strcmp(m->string, name) == 0)
			return m;
	return NULL;
}

bool json_equal(const cJSON *a, const cJSON *b)
{
	int ta = a->type & 0xFF, tb = b->type & 0xFF;
	if (ta != tb)
		return false;
	switch (ta) {
	case cJSON_Number:
		return a->valuedouble == b->valuedouble;
	case cJSON_String:
		return strcmp(a->valuestring, b->valuestring) == 0;
	case cJSON_Array: {
		const cJSON *x = a->child, *y = b->child;
		for (; x && y; x = x->next, y = y->next)
			if (!json_equal(x, y))
				return false;
		return !x && !y;
	}
	case cJSON_Object: {
		size_t na = 0, nb = 0;
		for (const cJSON *x = a->child; x; x = x->next)
			na++;
		for (const cJSON *y = b->child; y; y = y->next)
			nb++;
		if (na != nb)
			return false;
		for (const cJSON *x = a->child; x; x = x->next) {
			const cJSON *y = member(b, x->string);
			if (!y || !json_equal(x, y))
				return false;
		}
		return true;
	}
	default: /* null, true, false: the type says it all */
		return true;
	}
}
