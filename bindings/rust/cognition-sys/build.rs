// Finds libcognition for the linker.
//
// COGNITION_LIB_DIR (a directory holding libcognition.so, e.g. a meson build
// tree's lib/) overrides everything; COGNITION_INCLUDE_DIR (directories
// separated by ':') then names the headers for the header check. Otherwise
// the `pkg-config` program (or $PKG_CONFIG) is asked for `libcognition`.
// Only the standard library is used: no crates from outside the project.
use std::env;
use std::process::Command;

fn main() {
    for var in ["COGNITION_LIB_DIR", "COGNITION_INCLUDE_DIR", "PKG_CONFIG", "PKG_CONFIG_PATH"] {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    println!("cargo:rerun-if-changed=build.rs");

    let mut include_dirs: Vec<String> = Vec::new();
    match env::var("COGNITION_LIB_DIR") {
        Ok(dir) if !dir.is_empty() => {
            println!("cargo:rustc-link-search=native={}", dir);
            println!("cargo:rustc-link-lib=dylib=cognition");
            if let Ok(dirs) = env::var("COGNITION_INCLUDE_DIR") {
                include_dirs.extend(dirs.split(':').filter(|d| !d.is_empty()).map(String::from));
            }
        }
        _ => {
            let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
            let output = Command::new(&program)
                .args(["--libs", "--cflags", "libcognition"])
                .output();
            let output = match output {
                Ok(o) => o,
                Err(e) => panic!(
                    "cognition-sys: cannot run `{}` ({}); install pkg-config, or set \
                     COGNITION_LIB_DIR to the directory holding libcognition.so",
                    program, e
                ),
            };
            if !output.status.success() {
                panic!(
                    "cognition-sys: `{} --libs --cflags libcognition` failed: {}\n\
                     Install libcognition (meson install), point PKG_CONFIG_PATH at its \
                     lib/pkgconfig, or set COGNITION_LIB_DIR to a build tree's lib/",
                    program,
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            let flags = String::from_utf8_lossy(&output.stdout).to_string();
            for flag in flags.split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={}", dir);
                } else if let Some(lib) = flag.strip_prefix("-l") {
                    println!("cargo:rustc-link-lib={}", lib);
                } else if let Some(dir) = flag.strip_prefix("-I") {
                    include_dirs.push(dir.to_string());
                }
            }
        }
    }
    // For the header check (tests/header_check.rs) and for crates that
    // depend on this one (DEP_COGNITION_INCLUDE).
    let joined = include_dirs.join(":");
    println!("cargo:rustc-env=COGNITION_SYS_INCLUDE_DIRS={}", joined);
    println!("cargo:include={}", joined);
}
