#!/bin/sh
# cog user, cog login and cog token as a user runs them, on a temporary
# SQLite database with low argon2 limits (the config file's "auth"): users
# added (password from standard input, and asked twice on a terminal),
# listed, re-passworded and removed; roles set (argument, --file, standard
# input), got, listed and removed, bad permissions refused with the
# library's message, a role set from the command line reaching a user's
# token; login printing the tokens JSON and
# making the Ed25519 signing key once; token verify of a good token (text,
# --json, from standard input) and of bad ones (unknown user, wrong
# password, tampered payload and signature, garbage, expired, revoked by a
# password change and by cog token revoke); the login rate limits per user
# and per client key; bad command lines (exit 2); passwords nowhere in the
# output or the database.
# Usage: test-auth.sh COG
set -u
. "$(dirname "$0")/lib.sh"
cog=$(abspath "$1")
unset COG_DB COG_CONFIG COG_TENANT COG_LOG_LEVEL COLUMNS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

pw1='correct horse battery'
pw2='tr0ub4dor&3 staple'
cat > cog.json <<'EOF'
{"auth":{"issuer":"https://cog.test","password":{"opslimit":1,"memlimit":8192},
 "login_per_minute":1000}}
EOF

# check NAME PYTHON_CONDITION: the condition holds for o, the JSON object on
# stdout of the last expect.
check() {
	if python3 -c "
import json, sys
o = json.load(open('out.txt'))
sys.exit(0 if ($2) else 1)" 2>/dev/null; then
		ok "$1"
	else
		bad "$1: $(head -c 600 out.txt)"
	fi
}
field() { python3 -c "import json; o = json.load(open('out.txt')); print($1)"; }
# with_stdin TEXT COMMAND...: run COMMAND with TEXT (and a newline) on stdin.
with_stdin() {
	text=$1
	shift
	printf '%s\n' "$text" | "$@"
}

# ---- usage ----
expect "user without a command" 2 "needs a command" "$cog" user
expect "unknown user command" 2 "unknown user command 'frob'" "$cog" user frob
expect "token without a command" 2 "needs a command" "$cog" token
expect "help lists user add" 0 "user add NAME --role R" "$cog" help
expect "help lists login" 0 "login NAME" "$cog" help
expect "help lists token verify" 0 "token verify TOKEN" "$cog" help
expect "--json help" 0 '"user","login","token"' "$cog" --json help
expect "help lists role set" 0 "role set NAME PERMISSIONS_JSON" "$cog" help
expect "--json help lists role" 0 '"token","role"' "$cog" --json help
expect "role without a command" 2 "role needs a command" "$cog" role
expect "unknown role command" 2 "unknown role command 'frob'" "$cog" role frob
expect "role set without PERMISSIONS_JSON" 2 "PERMISSIONS_JSON is missing" "$cog" role set analyst
expect "role set without NAME" 2 "NAME is missing" "$cog" role set
expect "role set, JSON and --file" 2 "both given" "$cog" role set analyst '{}' --file x.json
expect "role get, too many" 2 "too many arguments" "$cog" role get a b
expect "role list before any database" 1 "no database at" "$cog" role list
expect "user add without --role" 2 "at least one --role" with_stdin "$pw1" "$cog" user add alice
expect "user add without NAME" 2 "NAME is missing" with_stdin "$pw1" "$cog" user add --role analyst
expect "login without NAME" 2 "login needs NAME" "$cog" login
expect "token verify without TOKEN" 2 "TOKEN is missing" "$cog" token verify
expect "unknown option" 2 "unknown option '--frob'" "$cog" user list --frob
expect "verify before any database" 1 "no database at" "$cog" token verify abc.def.ghi
[ ! -e cognition.db ] && ok "verify does not create the database" || bad "verify created cognition.db"

# ---- user add, list ----
expect "user add" 0 "added default/alice" with_stdin "$pw1" "$cog" user add alice --role analyst
grep -q "role 'analyst' is not defined" err.txt && ok "undefined role warned about" \
	|| bad "no warning about the undefined role: $(cat err.txt)"
grep -q "cog role set analyst" err.txt && ok "the warning says how to define the role" \
	|| bad "the warning does not mention cog role set: $(cat err.txt)"
expect "user add again" 1 "exists already" with_stdin "$pw1" "$cog" user add alice --role analyst
expect "user add, short password" 2 "" with_stdin "short" "$cog" user add carol --role analyst
expect "user add, no password on stdin" 2 "no password" "$cog" user add carol --role analyst </dev/null
expect "user add, bad name" 2 "" with_stdin "$pw1" "$cog" user add 'bad name!' --role analyst
expect "user add --tenant --json" 0 '"ok":true' with_stdin "$pw2" "$cog" user add bob \
	--role ops --role admin --tenant acme --json
check "user add --json names the user" 'o["added"] and o["tenant"] == "acme" and o["id"] == "bob"'
expect "user add --password-stdin" 0 "added default/dave" with_stdin "$pw2" "$cog" user add dave \
	--role analyst --password-stdin
expect "user list" 0 "default/alice" "$cog" user list
grep -q "acme/bob  *ops,admin" out.txt && ok "user list shows roles" || bad "user list: $(cat out.txt)"
expect "user list --json" 0 '"users"' "$cog" user list --json
check "user list --json has the three" 'sorted(u["id"] for u in o["users"]) == ["alice", "bob", "dave"]'
check "user list --json has no hash" 'all("hash" not in u for u in o["users"])'
expect "user list --tenant" 0 '"bob"' "$cog" user list --tenant acme --json
check "user list --tenant: only that tenant" '[u["id"] for u in o["users"]] == ["bob"]'

# ---- roles ----
expect "role list, none" 0 "no roles" "$cog" role list
expect "role set" 0 "defined role analyst" "$cog" role set analyst '{"tools":["file_read"]}'
grep -q "tools  *file_read" out.txt && ok "role set prints the permissions" \
	|| bad "role set output: $(cat out.txt)"
expect "role get" 0 "^role analyst" "$cog" role get analyst
grep -q "memory read  *-" out.txt && grep -q "admin  *no" out.txt && ok "role get shows every member" \
	|| bad "role get output: $(cat out.txt)"
expect "role get --json" 0 '"ok":true' "$cog" role get analyst --json
check "role get --json: the stored permissions" 'o["role"] == "analyst" and o["permissions"] == {"tools": ["file_read"], "memory": {"read": [], "write": []}, "admin": False}'
expect "role set, bad JSON" 1 "cog_auth_role_set: permissions: invalid JSON" \
	"$cog" role set analyst '{"tools":'
expect "role set, unknown member" 1 'cog_auth_role_set: unknown member "tool"' \
	"$cog" role set analyst '{"tool":["file_read"]}'
expect "role set, unknown memory member --json" 1 '"ok":false' \
	"$cog" role set analyst '{"memory":{"delete":[]}}' --json
check "unknown memory member: the library's message" '"unknown member" in o["error"] and "delete" in o["error"]'
expect "role set, not an object" 1 "must be a JSON object" "$cog" role set analyst '["file_read"]'
expect "role set, bad name" 2 "role name" "$cog" role set 'bad name!' '{}'
expect "role get after refused sets" 0 "" "$cog" role get analyst --json
check "refused sets changed nothing" 'o["permissions"]["tools"] == ["file_read"]'
echo '{"tools":["sql_*"],"memory":{"read":["acme/**"],"write":["acme/ops"]}}' > ops.json
expect "role set --file" 0 "defined role ops" "$cog" role set ops --file ops.json
expect "role set --file, missing file" 1 "cannot open" "$cog" role set ops --file nowhere.json
expect "role set from stdin --json" 0 '"defined":true' with_stdin '{"admin":true}' "$cog" role set root - --json
check "role set --json: the stored permissions" 'o["role"] == "root" and o["permissions"]["admin"] is True'
expect "role set again" 0 "replaced role root" with_stdin '{"admin":true}' "$cog" role set root -
expect "role list" 0 "analyst" "$cog" role list
grep -q "^ops  *tools sql_\*  read acme/\*\*  write acme/ops" out.txt && grep -q "^root .*(admin)" out.txt \
	&& ok "role list shows each role's permissions" || bad "role list: $(cat out.txt)"
expect "role list --json" 0 '"roles"' "$cog" role list --json
check "role list --json has the three" 'sorted(o["roles"]) == ["analyst", "ops", "root"] and o["roles"]["ops"]["memory"]["write"] == ["acme/ops"]'
expect "role remove" 0 "removed role root" "$cog" role remove root
expect "role remove again" 1 "no role named 'root'" "$cog" role remove root
expect "role get after remove" 1 "no role named 'root'" "$cog" role get root --json
check "role get after remove --json" 'o["ok"] is False'
expect "role list after remove" 0 "" "$cog" role list --json
check "root is gone" 'sorted(o["roles"]) == ["analyst", "ops"]'
# ---- login ----
expect "login" 0 '"access_token"' with_stdin "$pw1" "$cog" login alice
grep -q "made an Ed25519 signing key" err.txt && ok "first login makes a signing key" \
	|| bad "first login did not say it made a key: $(cat err.txt)"
check "login prints the tokens" 'o["token_type"] == "Bearer" and o["refresh_token"] and o["expires_in"] > 0'
access=$(field 'o["access_token"]')
refresh=$(field 'o["refresh_token"]')
expect "second login" 0 '"access_token"' with_stdin "$pw1" "$cog" login alice --client 10.0.0.9
grep -q "signing key" err.txt && bad "second login made another key" || ok "second login reuses the key"
expect "login --tenant --json" 0 '"ok":true' with_stdin "$pw2" "$cog" login bob --tenant acme --json
bob_access=$(field 'o["access_token"]')
expect "login, wrong password" 1 "invalid credentials" with_stdin "$pw2" "$cog" login alice
cp err.txt wrong.txt
expect "login, unknown user" 1 "invalid credentials" with_stdin "$pw1" "$cog" login nobody
cmp -s err.txt wrong.txt && ok "unknown user and wrong password look alike" \
	|| bad "unknown user and wrong password differ: $(cat wrong.txt) / $(cat err.txt)"
expect "login, wrong tenant" 1 "invalid credentials" with_stdin "$pw2" "$cog" login bob
expect "login, no password" 2 "no password" "$cog" login alice </dev/null

# ---- token verify ----
expect "verify" 0 "^valid" "$cog" token verify "$access"
grep -q '"sub":[[:space:]]*"alice"' out.txt && ok "verify prints the claims" || bad "claims: $(cat out.txt)"
expect "verify --json" 0 '"valid":true' "$cog" token verify "$access" --json
check "verify --json claims" 'o["claims"]["sub"] == "alice" and o["claims"]["tenant"] == "default" and "analyst" in o["claims"]["roles"] and o["claims"]["iss"] == "https://cog.test"'
expect "verify from stdin" 0 "^valid" with_stdin "$access" "$cog" token verify -
expect "verify bob --json" 0 '"valid":true' "$cog" token verify "$bob_access" --json
check "bob's roles" 'o["claims"]["tenant"] == "acme" and sorted(o["claims"]["roles"]) == ["admin", "ops"]'
forged=$(python3 - "$access" <<'EOF'
import base64, json, sys
h, p, s = sys.argv[1].split(".")
claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
claims["sub"] = "mallory"
p2 = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
print(".".join([h, p2, s]))
EOF
)
expect "verify, tampered payload" 1 "invalid token" "$cog" token verify "$forged"
expect "verify, tampered payload --json" 1 '"valid":false' "$cog" token verify "$forged" --json
check "tampered: denied" 'o["status"] == "denied" and o["error"]'
badsig=$(python3 -c "
import sys
h, p, s = sys.argv[1].split('.')
i = len(s) // 2
print('.'.join([h, p, s[:i] + ('A' if s[i] != 'A' else 'B') + s[i + 1:]]))" "$access")
expect "verify, tampered signature" 1 "invalid token" "$cog" token verify "$badsig"
expect "verify, garbage" 1 "invalid token" "$cog" token verify not-a-token --json
check "garbage: malformed" 'o["valid"] is False and o["status"] == "malformed"'
expect "verify, refresh token is not an access token" 1 "invalid token" "$cog" token verify "$refresh"

# an expired token: one-second tokens, no leeway
cat > short.json <<'EOF'
{"auth":{"issuer":"https://cog.test","access_ttl_s":1,"clock_skew_s":0,
 "password":{"opslimit":1,"memlimit":8192}}}
EOF
expect "login, short-lived token" 0 '"access_token"' with_stdin "$pw1" "$cog" --config short.json login alice
short=$(field 'o["access_token"]')
sleep 3
expect "verify, expired" 1 "expired" "$cog" --config short.json token verify "$short"
expect "verify, expired --json" 1 '"valid":false' "$cog" --config short.json token verify "$short" --json
check "expired: denied" 'o["status"] == "denied" and "expired" in o["error"]'
# another issuer is refused
echo '{"auth":{"issuer":"https://other.test"}}' > other.json
expect "verify, other issuer" 1 "invalid token" "$cog" --config other.json token verify "$access"

# ---- end to end: the role set above is what a user added with it gets (no CLI
# command makes a tool call as a principal, so: no warning, the role in the
# user's token, and its grant of file_read in cog role get)
expect "user add with a defined role" 0 "added default/carl" with_stdin "$pw1" "$cog" user add carl \
	--role analyst
grep -q "not defined" err.txt && bad "warned about a defined role: $(cat err.txt)" \
	|| ok "no warning for a defined role"
expect "login carl" 0 '"access_token"' with_stdin "$pw1" "$cog" login carl
carl=$(field 'o["access_token"]')
expect "verify carl --json" 0 '"valid":true' "$cog" token verify "$carl" --json
check "carl's token has the role" 'o["claims"]["roles"] == ["analyst"]'
expect "carl's role grants file_read" 0 "" "$cog" role get analyst --json
check "analyst: tool file_read" '"file_read" in o["permissions"]["tools"] and not o["permissions"]["admin"]'

# ---- token revoke ----
expect "login for revoke" 0 '"access_token"' with_stdin "$pw2" "$cog" login dave
dave=$(field 'o["access_token"]')
expect "token revoke" 0 "revoked" "$cog" token revoke "$dave"
expect "verify, revoked" 1 "revoked" "$cog" token verify "$dave"
expect "token revoke garbage" 1 "cannot revoke" "$cog" token revoke not-a-token

# ---- user passwd ----
expect "passwd, unknown user" 1 "no user default/nobody" with_stdin "$pw2" "$cog" user passwd nobody
expect "passwd, short password" 2 "" with_stdin "short" "$cog" user passwd alice
expect "passwd" 0 "password changed default/alice" with_stdin "$pw2" "$cog" user passwd alice
expect "login, old password" 1 "invalid credentials" with_stdin "$pw1" "$cog" login alice
expect "login, new password" 0 '"access_token"' with_stdin "$pw2" "$cog" login alice
expect "verify, token of before passwd" 1 "invalid token" "$cog" token verify "$access"

# ---- the password asked on a terminal (twice, without echo) ----
if python3 -c 'import pty' 2>/dev/null; then
	cat > pty_drive.py <<'EOF'
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b""
def until(marker):
    global seen
    while marker not in seen:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
until(b"New password:"); os.write(fd, b"terminal secret 1\n")
until(b"Again:"); os.write(fd, (os.environ["AGAIN"] + "\n").encode())
until(b"\x00never")
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
	AGAIN="terminal secret 1" expect "user add on a terminal" 0 "added default/erin" \
		python3 pty_drive.py "$cog" user add erin --role analyst
	grep -q "terminal secret" out.txt && bad "the terminal echoed the password" \
		|| ok "no echo on the terminal"
	AGAIN="terminal secret 2" expect "terminal passwords differ" 2 "do not match" \
		python3 pty_drive.py "$cog" user add frank --role analyst
	expect "login with the terminal password" 0 '"access_token"' \
		with_stdin "terminal secret 1" "$cog" login erin
else
	bad "python3 has no pty module: the terminal prompt is not tested"
fi

# ---- user remove ----
expect "user remove" 0 "removed acme/bob" "$cog" user remove bob --tenant acme
expect "user remove again" 1 "no user acme/bob" "$cog" user remove bob --tenant acme
expect "user list after remove" 0 "" "$cog" user list --json
check "bob is gone" '"bob" not in [u["id"] for u in o["users"]]'
expect "login of a removed user" 1 "invalid credentials" with_stdin "$pw2" "$cog" login bob --tenant acme

# ---- rate limits: 2 a minute, per user and per client key ----
cat > limit.json <<'EOF'
{"auth":{"login_per_minute":2,"password":{"opslimit":1,"memlimit":8192}}}
EOF
lim="$cog --db limit.db --config limit.json"
expect "limit: add gina" 0 "added" with_stdin "$pw1" $lim user add gina --role analyst
expect "limit: add hank" 0 "added" with_stdin "$pw1" $lim user add hank --role analyst
expect "limit: add ivan" 0 "added" with_stdin "$pw1" $lim user add ivan --role analyst
expect "limit: gina 1" 1 "invalid credentials" with_stdin "wrong password" $lim login gina
expect "limit: gina 2" 0 '"access_token"' with_stdin "$pw1" $lim login gina
expect "limit: gina 3 limited" 1 "rate limited" with_stdin "$pw1" $lim login gina
grep -q "access_token" out.txt && bad "a rate limited login printed tokens" || ok "no tokens when limited"
expect "limit: hank via client k 1" 0 '"access_token"' with_stdin "$pw1" $lim login hank --client k
expect "limit: ivan via client k 2" 0 '"access_token"' with_stdin "$pw1" $lim login ivan --client k
expect "limit: hank via client k 3 limited" 1 "rate limited" with_stdin "$pw1" $lim login hank --client k
expect "limit: ivan via client j" 0 '"access_token"' with_stdin "$pw1" $lim login ivan --client j

# ---- no password in the output or the database ----
leaked=0
for f in out.txt err.txt cognition.db cognition.db-wal limit.db limit.db-wal; do
	[ -e "$f" ] || continue
	for p in "$pw1" "$pw2" "terminal secret 1"; do
		grep -q -F -a -- "$p" "$f" && { bad "password '$p' found in $f"; leaked=1; }
	done
done
[ "$leaked" -eq 0 ] && ok "no password in the output or the databases"

finish test-auth
