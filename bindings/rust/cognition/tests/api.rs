//! The safe wrapper against the real library: contexts, plans run with a
//! Rust tool, memory, agents, LLM calls and the error paths.
use cognition::{sys, Ctx, Error, LogLevel, Memory, Plan, PlanFormat, Put, ToolOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

/// A host tool adding two numbers (no JSON crate: the arguments are tiny).
fn number(args: &str, key: &str) -> f64 {
    let at = args.find(&format!("\"{}\"", key)).expect("key present") + key.len() + 2;
    let rest = args[at..].trim_start_matches(|c: char| c == ':' || c.is_whitespace());
    let end = rest.find(|c: char| c == ',' || c == '}').unwrap_or(rest.len());
    rest[..end].trim().parse().expect("a number")
}

const ADD_SCHEMA: &str = r#"{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"],"additionalProperties":false}"#;

fn define_add(ctx: &Ctx, calls: Arc<AtomicUsize>) {
    ctx.define_tool(
        &ToolOptions::new("add").description("adds a and b").input_schema(ADD_SCHEMA),
        move |req| {
            calls.fetch_add(1, Ordering::SeqCst);
            let args = req.arguments();
            Ok(format!("{{\"sum\":{}}}", number(&args, "a") + number(&args, "b")))
        },
    )
    .expect("define the add tool");
}

#[test]
fn thread_rules_are_those_of_the_headers() {
    assert_send_sync::<Ctx>();
    assert_send::<Plan<'static>>();
    assert_send::<Memory<'static>>();
    assert_send_sync::<Error>();
}

#[test]
fn ctx_hooks_cancel_and_describe() {
    let logs = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = logs.clone();
    let ctx = Ctx::builder()
        .log_level(LogLevel::Debug)
        .worker_threads(2)
        .on_log(move |level, line| {
            if level == LogLevel::Warn {
                seen.lock().unwrap().push(line.to_string());
            }
        })
        .build()
        .expect("ctx");
    let trace = ctx.trace_id();
    assert_eq!(trace.len(), 32, "{}", trace);
    assert!(trace.chars().all(|c| c.is_ascii_hexdigit()));
    let described = ctx.describe().expect("describe");
    assert!(described.starts_with('{') && described.contains("2"), "{}", described);

    ctx.log(LogLevel::Warn, "from rust", Some(r#"{"api_key":"sk-secret","n":1}"#)).expect("log");
    let lines = logs.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{:?}", lines);
    assert!(lines[0].contains("from rust") && lines[0].contains("[REDACTED]"), "{}", lines[0]);
    assert!(!lines[0].contains("sk-secret"), "{}", lines[0]);
    let bad = ctx.log(LogLevel::Info, "x", Some("[1]")).expect_err("fields must be an object");
    assert_eq!(bad.code(), sys::COG_EINVAL);

    // The context is shared: another thread cancels it.
    let mut ctx = ctx;
    std::thread::scope(|s| {
        s.spawn(|| ctx.cancel());
    });
    assert!(ctx.is_canceled());
    ctx.reset_cancel();
    assert!(!ctx.is_canceled());
    assert!(!cognition::version().is_empty());
}

#[test]
fn plan_runs_with_a_rust_tool() {
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = events.clone();
    let ctx = Ctx::builder()
        .on_event(move |e| sink.lock().unwrap().push(e.to_string()))
        .build()
        .expect("ctx");
    let calls = Arc::new(AtomicUsize::new(0));
    define_add(&ctx, calls.clone());

    let mut plan = Plan::from_json(
        &ctx,
        r#"{"version":1,"goal":"add twice","tasks":[
            {"id":"first","kind":"tool","tool":"add","inputs":{"a":2,"b":3}},
            {"id":"second","kind":"tool","tool":"add","inputs":{"a":10,"b":0.5},"depends_on":["first"]}]}"#,
    )
    .expect("plan");
    assert_eq!(plan.task_count(), 2);
    assert_eq!(plan.goal(), "add twice");
    let analysis = plan.analyze().expect("analyze");
    assert!(analysis.contains(r#""order":["first","second"]"#), "{}", analysis);
    assert!(plan.export(PlanFormat::Dot).expect("dot").contains("digraph"));

    plan.run(None).expect("the plan runs");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let first = plan.task_status("first").expect("status");
    assert!(first.contains(r#""state":"succeeded""#) && first.contains(r#""sum":5"#), "{}", first);
    let second = plan.task_status("second").expect("status");
    assert!(second.contains(r#""sum":10.5"#), "{}", second);
    let events = events.lock().unwrap().clone();
    assert!(events.iter().any(|e| e.contains("plan.finished")), "{:?}", events);
    assert!(events.iter().filter(|e| e.contains("task.succeeded")).count() >= 2);

    // The same tool called directly, with arguments its schema rejects.
    assert_eq!(ctx.call_tool("add", r#"{"a":1,"b":2}"#, None).expect("call"), r#"{"sum":3}"#);
    let err = ctx.call_tool("add", r#"{"a":"one","b":2}"#, None).expect_err("bad arguments");
    assert_eq!(err.code(), sys::COG_ESCHEMA, "{}", err);
    assert!(err.json().unwrap_or("").contains("invalid_arguments"), "{:?}", err.json());
    let listed = ctx.list_tools(Some("add"), sys::COG_TOOL_FORMAT_OPENAI).expect("list");
    assert!(listed.contains("adds a and b"), "{}", listed);
}

#[test]
fn plan_built_by_the_host() {
    let ctx = Ctx::new().expect("ctx");
    define_add(&ctx, Arc::new(AtomicUsize::new(0)));
    let mut plan = Plan::new(&ctx, "one sum").expect("plan");
    plan.add_task(r#"{"id":"s","kind":"tool","tool":"add","inputs":{"a":1,"b":1}}"#).expect("task");
    plan.add_task(r#"{"id":"t","kind":"tool","tool":"add","inputs":{"a":2,"b":2}}"#).expect("task");
    plan.add_dependency("t", "s").expect("dependency");
    assert_eq!(plan.id().len() > 0, true);
    plan.run(Some(&cognition::RunOptions { workers: 1, ..Default::default() })).expect("run");
    assert!(plan.status().expect("status").contains(r#""state":"succeeded""#));
}

#[test]
fn invalid_plans_return_the_library_message() {
    let ctx = Ctx::new().expect("ctx");
    let mut cyclic = Plan::from_json(
        &ctx,
        r#"{"version":1,"goal":"loop","tasks":[{"id":"a","depends_on":["b"]},{"id":"b","depends_on":["a"]}]}"#,
    )
    .expect("read (cycles are found by validation)");
    let err = cyclic.validate().expect_err("a cycle");
    assert_eq!(err.code(), sys::COG_ECYCLE, "{}", err);
    assert!(err.message().contains("a -> b -> a") || err.message().contains("b -> a -> b"), "{}", err.message());
    let run = cyclic.run(None).expect_err("a cyclic plan does not run");
    assert_eq!(run.code(), sys::COG_ECYCLE);

    let err = Plan::from_json(&ctx, r#"{"version":1,"goal":"g","tasks":[{"id":"x","colour":"red"}]}"#)
        .err()
        .expect("unknown field");
    assert_eq!(err.code(), sys::COG_EINVAL);
    assert!(err.message().contains("colour"), "{}", err.message());
    assert!(err.to_string().contains("colour"));

    let err = Plan::from_json(&ctx, "{not json").err().expect("not JSON");
    assert_eq!(err.code(), sys::COG_EINVAL);
    assert!(!err.message().is_empty() && err.message() != "no error");

    let err = Plan::new(&ctx, "nul\0byte").err().expect("NUL in a string");
    assert_eq!(err.code(), sys::COG_EINVAL);

    let mut missing = Plan::new(&ctx, "g").expect("plan");
    missing.add_task(r#"{"id":"t","kind":"tool","tool":"no_such_tool"}"#).expect("task");
    define_add(&ctx, Arc::new(AtomicUsize::new(0)));
    let err = missing.validate().expect_err("unknown tool");
    assert_eq!(err.code(), sys::COG_ENOTFOUND, "{}", err);
    assert!(err.message().contains("no_such_tool"), "{}", err.message());
}

#[test]
fn a_panicking_tool_comes_back_as_a_tool_error() {
    let ctx = Ctx::new().expect("ctx");
    ctx.define_tool(&ToolOptions::new("explode"), |_req| -> cognition::Result<String> {
        panic!("boom in rust")
    })
    .expect("define");
    ctx.define_tool(&ToolOptions::new("refuse"), |_req| {
        Err(Error::new(sys::COG_ENOTFOUND, "no such customer: 42"))
    })
    .expect("define");

    let err = ctx.call_tool("explode", "{}", None).expect_err("the panic is an error");
    assert_eq!(err.code(), sys::COG_EUSER, "{}", err);
    assert!(err.message().contains("boom in rust"), "{}", err.message());
    let for_model = err.json().expect("an error object for the model");
    assert!(for_model.contains("tool_error") && for_model.contains("boom in rust"), "{}", for_model);

    let err = ctx.call_tool("refuse", "{}", None).expect_err("the closure's error");
    assert_eq!(err.code(), sys::COG_ENOTFOUND, "{}", err);
    assert!(err.message().contains("no such customer: 42"), "{}", err.message());

    // In a plan: the task fails with the panic's message; the host goes on.
    let mut plan = Plan::from_json(
        &ctx,
        r#"{"version":1,"goal":"g","tasks":[{"id":"bang","kind":"tool","tool":"explode","inputs":{}}]}"#,
    )
    .expect("plan");
    let err = plan.run(None).expect_err("the task fails");
    assert!(err.message().contains("bang"), "{}", err);
    let status = plan.task_status("bang").expect("status");
    assert!(status.contains(r#""state":"failed""#) && status.contains("boom in rust"), "{}", status);
    define_add(&ctx, Arc::new(AtomicUsize::new(0)));
    assert!(ctx.call_tool("add", r#"{"a":1,"b":1}"#, None).is_ok());
}

#[test]
fn memory_put_and_search() {
    let mut ctx = Ctx::new().expect("ctx");
    ctx.use_memory_storage().expect("storage");
    let mut mem = Memory::open(&ctx, "acme/alice").expect("open");
    assert_eq!(mem.namespace(), "acme/alice");
    let invoice = mem.put("The invoice for March was paid by bank transfer").expect("put");
    let _ = mem.put("Alice prefers tea over coffee in the morning").expect("put");
    let _ = mem
        .put_with(
            "The quarterly report is due on Friday",
            &cognition::PutOptions { metadata: Some(r#"{"topic":"reports"}"#.into()), ..Default::default() },
        )
        .expect("put");
    let id = match invoice {
        Put::New(id) => id,
        Put::Merged(_) => panic!("a fresh memory cannot merge"),
    };
    assert!(mem.get(id).expect("get").contains("bank transfer"));
    assert_eq!(mem.put("The invoice for March was paid by bank transfer").expect("again"), Put::Merged(id));

    let found = mem.search_text("invoice paid", 2).expect("search");
    let first = found.find("\"text\":").expect("a result");
    assert!(found[first..].starts_with("\"text\":\"The invoice for March"), "{}", found);

    let filtered = mem.search(r#"{"text":"report","metadata":{"topic":"reports"}}"#).expect("search");
    assert!(filtered.contains("quarterly") && !filtered.contains("tea"), "{}", filtered);

    let err = Memory::open(&ctx, "bad//ns").err().expect("bad namespace");
    assert_eq!(err.code(), sys::COG_EINVAL);
    let err = mem.put("").expect_err("empty text");
    assert_eq!(err.code(), sys::COG_EINVAL);
    mem.forget(id).expect("forget");
    assert_eq!(mem.get(id).expect_err("gone").code(), sys::COG_ENOTFOUND);
}

#[test]
fn agents_and_llm_without_an_endpoint() {
    let ctx = Ctx::new().expect("ctx");
    assert!(!ctx.llm_available());
    let err = ctx
        .llm_chat(r#"{"messages":[{"role":"user","content":"hi"}]}"#, None)
        .expect_err("no endpoint");
    assert_eq!(err.code(), sys::COG_EUNAVAILABLE, "{}", err);

    ctx.define_agent(r#"{"name":"analyst","capabilities":["sql"],"tools":[]}"#).expect("define");
    assert!(ctx.agent_definitions().expect("definitions").contains("analyst"));
    let err = ctx.define_agent(r#"{"name":"analyst"}"#).expect_err("defined twice");
    assert_eq!(err.code(), sys::COG_EEXISTS);
    let mut agent = cognition::Agent::spawn(&ctx, "analyst").expect("spawn");
    assert_eq!(agent.name(), "analyst");
    let err = agent.run(r#"{"prompt":"sum the sales"}"#, None).expect_err("no LLM");
    assert_eq!(err.code(), sys::COG_EUNAVAILABLE, "{}", err);
    assert!(cognition::Agent::spawn(&ctx, "nobody").is_err());
}
