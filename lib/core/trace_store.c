/* placeholder: being written */
#include "core_int.h"
#include "trace_int.h"
typedef int trace_placeholder_trace_store;
