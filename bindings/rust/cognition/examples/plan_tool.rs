//! The example of bindings/rust/README.md (built by `cargo test`, run with `cargo run --example plan_tool`).
use cognition::{Ctx, Plan, ToolOptions};

fn main() -> cognition::Result<()> {
    let ctx = Ctx::builder().on_event(|e| eprintln!("{}", e)).build()?;
    ctx.define_tool(
        &ToolOptions::new("greet")
            .input_schema(r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}"#),
        |req| Ok(format!(r#"{{"greeting":"hello, from {}"}}"#, req.call_id())),
    )?;
    let mut plan = Plan::from_json(&ctx, r#"{"version":1,"goal":"greet","tasks":[
        {"id":"hi","kind":"tool","tool":"greet","inputs":{"name":"Ada"}}]}"#)?;
    plan.run(None)?;
    println!("{}", plan.task_status("hi")?);
    Ok(())
}
