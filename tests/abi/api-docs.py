#!/usr/bin/env python3
"""Generate docs/api/ from the public headers, or check that it is current.

Every function declared with COG_API in include/cognition/*.h gets an entry
on its header's page, with the comment written above it. A comment documents
the declaration that follows it directly (no blank line between them). The
declarations that follow that one without a blank line share the comment
only if it names them: by name (cog_malloc(), cog_realloc() and cog_free())
or by a family pattern ending in `*` (cog_plan_set_*). An undocumented
function slipped into a documented group is therefore reported.

    api-docs.py write INCLUDE_DIR DOCS_API_DIR   regenerate the pages
    api-docs.py check INCLUDE_DIR DOCS_API_DIR   fail (exit 1) when a public
        function has no comment or when a page differs from what write
        would produce

Only the standard library is used, so CI needs nothing but python3.
"""
import difflib
import os
import re
import sys

HEADER_GLOB_DIR = "cognition"
INDEX_PAGE = "README.md"


def clean_comment(text):
    """The text of a /* ... */ comment, without the stars and the margin."""
    body = text.strip()
    body = body[2:-2] if body.startswith("/*") and body.endswith("*/") else body
    lines = body.split("\n")
    out = []
    for line in lines:
        line = line.rstrip()
        stripped = line.lstrip()
        if stripped.startswith("* ") or stripped == "*":
            stripped = stripped[2:] if stripped.startswith("* ") else ""
            out.append(stripped.rstrip())
        else:
            out.append(line.strip() if not out else line.rstrip())
    # Keep the relative indentation of lines written as tables or examples.
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def is_banner(comment):
    """A section banner (/* ---- */ or a title inside dashes) documents nothing."""
    inner = comment.strip()[2:-2].strip()
    return inner == "" or set(inner) <= set("-= *")


def tokenize(source):
    """Split a header into ('comment', text, line), ('code', text, line) and
    ('blank', '', line) items, one per comment or per source line."""
    items = []
    i = 0
    line_no = 1
    n = len(source)
    while i < n:
        # Start of a physical line: a blank line, a comment or code.
        end = source.find("\n", i)
        if end < 0:
            end = n
        line = source[i:end]
        if not line.strip():
            items.append(("blank", "", line_no))
            i = end + 1
            line_no += 1
            continue
        if line.lstrip().startswith("/*"):
            start = i + line.index("/*")
            close = source.find("*/", start + 2)
            if close < 0:
                raise ValueError("unterminated comment at line %d" % line_no)
            close += 2
            text = source[start:close]
            items.append(("comment", text, line_no))
            line_no += text.count("\n")
            rest_end = source.find("\n", close)
            if rest_end < 0:
                rest_end = n
            rest = source[close:rest_end]
            if rest.strip():
                items.append(("code", rest, line_no))
            i = rest_end + 1
            line_no += 1
            continue
        items.append(("code", line, line_no))
        i = end + 1
        line_no += 1
    return items


DECL_NAME = re.compile(r"\b(cog_[A-Za-z0-9_]+)\s*\(")
FAMILY = re.compile(r"\b(cog_[A-Za-z0-9_]*)\*")


def names_function(comment, name):
    """Whether a group's comment names `name`: the name itself as a word,
    or a family pattern (cog_plan_*) it matches."""
    if re.search(r"\b%s\b" % re.escape(name), comment):
        return True
    return any(name.startswith(prefix) for prefix in FAMILY.findall(comment))


def parse_header(path):
    """Return (intro comment, [(name, declaration, doc or None, line)])."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    items = tokenize(source)
    intro = None
    functions = []
    doc = None          # comment that still applies to the next declaration
    grouped = False     # a declaration already took `doc`: later ones must be named
    k = 0
    while k < len(items):
        kind, text, line = items[k]
        if kind == "blank":
            doc = None
            k += 1
            continue
        if kind == "comment":
            grouped = False
            if intro is None and line == 1:
                intro = clean_comment(text)
                doc = None
            elif is_banner(text):
                doc = None
            else:
                doc = clean_comment(text)
            k += 1
            continue
        stripped = text.strip()
        if stripped.startswith("COG_API") and not stripped.startswith("COG_API_"):
            decl_lines = [stripped]
            first_line = line
            while not decl_lines[-1].rstrip().endswith(";"):
                k += 1
                if k >= len(items):
                    raise ValueError("%s:%d: declaration without ';'" % (path, first_line))
                kind2, text2, _ = items[k]
                if kind2 == "code":
                    decl_lines.append(text2.strip())
            declaration = " ".join(decl_lines)
            declaration = re.sub(r"\s+", " ", declaration)
            declaration = declaration.replace("( ", "(").replace(" )", ")")
            m = DECL_NAME.search(declaration)
            if not m:
                raise ValueError("%s:%d: no function name in %r" % (path, first_line, declaration))
            name = m.group(1)
            own = doc
            if grouped and doc and not names_function(doc, name):
                own = None  # in the group, but the comment does not name it
            functions.append((name, declaration, own, first_line))
            # `doc` stays set: the next declaration without a blank line
            # between is in the same group (documented if the comment names it).
            grouped = True
            k += 1
            continue
        # Any other code (a typedef, a #define) ends what the comment covers
        # unless it is a preprocessor line inside the include guard.
        if not stripped.startswith("#") and not stripped.startswith("extern \"C\"") \
                and stripped not in ("{", "}"):
            doc = None
        elif stripped.startswith("#define"):
            doc = None
        k += 1
    return intro, functions


def headers(include_dir):
    folder = os.path.join(include_dir, HEADER_GLOB_DIR)
    names = sorted(n for n in os.listdir(folder) if n.endswith(".h"))
    if not names:
        raise ValueError("no headers in %s" % folder)
    return [(n, os.path.join(folder, n)) for n in names]


def render_page(header_name, intro, functions):
    out = ["<!-- Generated by tests/abi/api-docs.py from include/cognition/%s;"
           " do not edit. -->" % header_name, ""]
    out.append("# cognition/%s" % header_name)
    out.append("")
    if intro:
        out.append("```text")
        out.append(intro)
        out.append("```")
        out.append("")
    out.append("Functions: " + ", ".join("[`%s`](#%s)" % (n, n) for n, _, _, _ in functions))
    out.append("")
    for name, declaration, doc, _ in functions:
        out.append('<a id="%s"></a>' % name)
        out.append("## %s" % name)
        out.append("")
        out.append("```c")
        out.append(declaration)
        out.append("```")
        out.append("")
        if doc:
            out.append("```text")
            out.append(doc)
            out.append("```")
        else:
            out.append("*No documentation comment in the header.*")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render_index(pages):
    out = ["<!-- Generated by tests/abi/api-docs.py; do not edit. -->", "",
           "# API reference", "",
           "One page per public header, generated from the comments above each declaration",
           "(`python3 tests/abi/api-docs.py write include docs/api`). The test `abi/api-docs`",
           "fails when a public function has no comment or when these pages are stale.",
           "Conventions shared by every function (status codes, `cog_error_last()`, ownership,",
           "versioned structs) are in [errors.md](../errors.md) and [abi.md](../abi.md).", ""]
    total = 0
    for header_name, functions in pages:
        page = header_name[:-2] + ".md"
        out.append("## [cognition/%s](%s)" % (header_name, page))
        out.append("")
        for name, _, _, _ in functions:
            out.append("- [`%s`](%s#%s)" % (name, page, name))
            total += 1
        out.append("")
    out.append("%d public functions." % total)
    return "\n".join(out) + "\n"


def generate(include_dir):
    files = {}
    pages = []
    missing = []
    seen = {}
    for header_name, path in headers(include_dir):
        intro, functions = parse_header(path)
        for name, _, doc, line in functions:
            if name in seen:
                raise ValueError("%s declared twice (%s and %s)" % (name, seen[name], header_name))
            seen[name] = header_name
            if not doc:
                missing.append("include/cognition/%s:%d: %s" % (header_name, line, name))
        if functions:
            files[header_name[:-2] + ".md"] = render_page(header_name, intro, functions)
            pages.append((header_name, functions))
    files[INDEX_PAGE] = render_index(pages)
    return files, missing, len(seen)


def main(argv):
    if len(argv) != 4 or argv[1] not in ("write", "check"):
        sys.stderr.write(__doc__)
        return 2
    mode, include_dir, docs_dir = argv[1], argv[2], argv[3]
    try:
        files, missing, count = generate(include_dir)
    except (OSError, ValueError) as e:
        print("not ok - api-docs: %s" % e)
        return 1
    if mode == "write":
        os.makedirs(docs_dir, exist_ok=True)
        for name in os.listdir(docs_dir):
            if name.endswith(".md") and name not in files:
                os.remove(os.path.join(docs_dir, name))
        for name, text in files.items():
            with open(os.path.join(docs_dir, name), "w", encoding="utf-8") as f:
                f.write(text)
        print("wrote %d pages for %d functions to %s" % (len(files), count, docs_dir))
        for m in missing:
            print("warning: no documentation comment: %s" % m)
        return 0

    failed = 0
    passed = 0
    if missing:
        failed += 1
        print("not ok - %d public functions have no documentation comment "
              "(write one directly above each declaration, or name the "
              "function in its group's comment):" % len(missing))
        for m in missing:
            print("  " + m)
    else:
        passed += 1
        print("ok - all %d public functions have a documentation comment" % count)

    stale = []
    present = set()
    if os.path.isdir(docs_dir):
        present = {n for n in os.listdir(docs_dir) if n.endswith(".md")}
    for name in sorted(set(files) | present):
        path = os.path.join(docs_dir, name)
        want = files.get(name)
        have = None
        if name in present:
            with open(path, encoding="utf-8") as f:
                have = f.read()
        if want == have:
            continue
        if want is None:
            stale.append("%s: not generated from any header (remove it)" % path)
        elif have is None:
            stale.append("%s: missing" % path)
        else:
            diff = difflib.unified_diff(have.splitlines(), want.splitlines(),
                                        "docs/api/" + name + " (checked in)",
                                        "docs/api/" + name + " (from the headers)",
                                        lineterm="", n=1)
            stale.append("%s differs:\n    %s" % (path, "\n    ".join(list(diff)[:40])))
    if stale:
        failed += 1
        print("not ok - docs/api is stale; run: python3 tests/abi/api-docs.py write include docs/api")
        for s in stale:
            print("  " + s)
    else:
        passed += 1
        print("ok - docs/api matches the headers (%d pages)" % len(files))
    print("api-docs: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
