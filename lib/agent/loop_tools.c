/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"
typedef int agent_placeholder_tools;
