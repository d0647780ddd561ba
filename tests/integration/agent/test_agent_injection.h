/* The scanner's own cases (test_agent_injection_scan.c) for the suite of
 * test_agent_injection.c. */
#ifndef TEST_AGENT_INJECTION_H
#define TEST_AGENT_INJECTION_H

#include <check.h>

TCase *injection_scan_tcase(void);
/* Where the taint goes (test_agent_injection_flow.c). */
TCase *injection_flow_tcase(void);

#endif
