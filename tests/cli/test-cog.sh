#!/bin/sh
# The cog program as a user runs it: exit codes, text and --json output,
# database selection (--db, COG_DB, ./cognition.db), bad input.
# Usage: COG MINIMAL_HOST
set -u
. "$(dirname "$0")/lib.sh"
cog=$(abspath "$1") host=$(abspath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
expect "--version" 0 "cog 0.1.0" "$cog" --version
expect "--json --version" 0 '"features"' "$cog" --json --version
is_json "--json --version"
expect "--help" 0 "doctor" "$cog" --help
expect "--json --help" 0 '"usage"' "$cog" --json --help
is_json "--json --help"
expect "no command" 2 "usage" "$cog"
expect "--json no command" 2 '"ok":false' "$cog" --json
is_json "--json no command"
expect "unknown command" 2 "unknown command 'frobnicate'" "$cog" frobnicate
expect "unknown option" 2 "unknown option '--frob'" "$cog" --frob doctor
expect "--db without a path" 2 "needs a PATH" "$cog" --db
expect "--json unknown command" 2 '"ok":false' "$cog" --json frobnicate
is_json "--json unknown command"
expect "doctor extra argument" 2 "takes no arguments" "$cog" doctor extra

expect "doctor before any database" 0 "created on first use" "$cog" doctor
[ ! -e cognition.db ] && ok "doctor does not create the database" || bad "doctor created ./cognition.db"
expect "minimal host stores a document" 0 "stored and read back" "$host"
expect "doctor on ./cognition.db" 0 '"journal_mode":"wal"' "$cog" doctor
expect "--json doctor" 0 '"ok":true' "$cog" --json doctor
is_json "--json doctor"

"$host" other.db >/dev/null 2>&1
expect "--db selects the file" 0 '"path":"other.db"' "$cog" --db other.db doctor
expect "COG_DB selects the file" 0 '"path":"other.db"' env COG_DB=other.db "$cog" doctor
expect "--db wins over COG_DB" 0 '"path":"./cognition.db"' env COG_DB=other.db "$cog" --db ./cognition.db doctor

printf 'this is not a database, keep me\n' > junk.db
cp junk.db junk.orig
expect "doctor on a file that is not SQLite" 1 "not a database" "$cog" --db junk.db doctor
expect "--json doctor on a file that is not SQLite" 1 '"ok":false' "$cog" --json --db junk.db doctor
is_json "--json doctor on a bad file"
cmp -s junk.db junk.orig && ok "the bad file is left untouched" || bad "doctor changed junk.db"

expect "bad COG_WORKERS" 1 "COG_WORKERS='lots'" env COG_WORKERS=lots "$cog" doctor
expect "bad COG_LOG_LEVEL" 1 "COG_LOG_LEVEL" env COG_LOG_LEVEL=shouty "$cog" --json doctor

finish cli
