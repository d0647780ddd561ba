/* placeholder: the agent tests helpers (agent_test.h), being written */
typedef int agent_test_placeholder;
