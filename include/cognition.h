/*
 * libcognition: the umbrella header. Include this, link with
 * `pkg-config --libs libcognition`, plus the backends you use.
 */
#ifndef COGNITION_H
#define COGNITION_H

#include "cognition/common.h"
#include "cognition/storage.h"
#include "cognition/transport.h"
#include "cognition/ctx.h"
#include "cognition/schema.h"
#include "cognition/tool.h"
#include "cognition/llm.h"
#include "cognition/memory.h"
#include "cognition/plan.h"
#include "cognition/mcp.h"
#include "cognition/trace.h"
#include "cognition/agent.h"
#include "cognition/auth.h"

#endif /* COGNITION_H */
