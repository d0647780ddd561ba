/* placeholder: being written */
#include "agent_int.h"
typedef int agent_placeholder_registry;
