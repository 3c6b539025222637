#!/usr/bin/env bash
# pip-audit over requirements/lock.txt (the whole verified environment, exact pins, no
# resolving), with the advisories accepted in requirements/audit-ignore.txt.
#
#   scripts/audit.sh            # AUDIT_SERVICE=pypi (default) | osv; PYTHON=.venv/bin/python
#
# Exit status:
#   0  no finding beyond the accepted ones; or "audit skipped: vulnerability service
#      unreachable", printed ONLY when a probe of the service for a release with a published
#      advisory (requests 2.19.0, CVE-2018-18074) cannot get an answer: name resolution,
#      connection, TLS or timeout failures, or an HTTP error status (a registry mirror that
#      serves the package index but not the per-release JSON API answers 404 here);
#   1  a new finding (a vulnerability not accepted in the ignore file);
#   2  the audit cannot be trusted: the service answers but without the known advisory, a
#      pinned package could not be audited, pip-audit failed mid-way, or an ignore line lacks
#      its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
LOCK=${LOCK:-requirements/lock.txt}
IGNORE=${IGNORE:-requirements/audit-ignore.txt}
SERVICE=${AUDIT_SERVICE:-pypi}
TIMEOUT=${AUDIT_TIMEOUT:-20}

"$PYTHON" -m pip_audit --version >/dev/null 2>&1 || {
  echo "audit: pip-audit is not installed in $PYTHON's environment" >&2
  exit 2
}

# 1. can the vulnerability service be reached, and does it serve advisories?
set +e
probe=$("$PYTHON" - "$SERVICE" "$TIMEOUT" <<'PY'
import json, sys, urllib.error, urllib.request

service, timeout = sys.argv[1], float(sys.argv[2])
if service == "osv":
    req = urllib.request.Request(
        "https://api.osv.dev/v1/query",
        data=json.dumps(
            {"package": {"name": "requests", "ecosystem": "PyPI"}, "version": "2.19.0"}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    field = "vulns"
else:
    req = urllib.request.Request("https://pypi.org/pypi/requests/2.19.0/json")
    field = "vulnerabilities"
try:
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = json.load(resp)
except urllib.error.HTTPError as exc:
    print(f"unreachable: {req.full_url} answered HTTP {exc.code}")
    sys.exit(3)
except (OSError, ValueError) as exc:  # DNS, refused, TLS, timeout; ValueError: not JSON
    print(f"unreachable: {req.full_url}: {exc}")
    sys.exit(3)
if not body.get(field):
    print(f"broken: {req.full_url} answered without the advisories of requests 2.19.0")
    sys.exit(4)
print("reachable")
PY
)
status=$?
set -e
case $status in
  0) ;;
  3) echo "audit skipped: vulnerability service unreachable ($SERVICE; ${probe#unreachable: })"
     exit 0 ;;
  4) echo "audit: $probe" >&2; exit 2 ;;
  *) echo "audit: probe failed: $probe" >&2; exit 2 ;;
esac

# 2. the accepted advisories: "ID  # reason", one a line; a line without a reason is refused
ignores=()
while IFS= read -r line || [[ -n $line ]]; do
  [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
  if [[ ! $line =~ ^[[:space:]]*([A-Za-z0-9._:-]+)[[:space:]]+#[[:space:]]*[^[:space:]] ]]; then
    echo "audit: $IGNORE: '$line': need 'ID  # reason'" >&2
    exit 2
  fi
  ignores+=(--ignore-vuln "${BASH_REMATCH[1]}")
done < <(cat "$IGNORE" 2>/dev/null || true)

# 3. the audit: local version labels dropped (torch 2.13.0+cpu is audited as 2.13.0)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -E 's/^([A-Za-z0-9._-]+==[^+[:space:]]+)\+[A-Za-z0-9.]+/\1/' "$LOCK" > "$work/lock.txt"
set +e
"$PYTHON" -m pip_audit -r "$work/lock.txt" --no-deps --disable-pip --progress-spinner off \
  --vulnerability-service "$SERVICE" --timeout "$TIMEOUT" "${ignores[@]}" \
  --format json --output "$work/audit.json" 2>"$work/stderr"
rc=$?
set -e
if [[ ! -s $work/audit.json ]]; then
  echo "audit: pip-audit failed (exit $rc) without a report:" >&2
  tail -n 5 "$work/stderr" >&2
  exit 2
fi

# 4. the verdict: findings -> 1; any package not audited -> 2
"$PYTHON" - "$work/audit.json" "$LOCK" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))
deps = report.get("dependencies", [])
skipped = [d for d in deps if "skip_reason" in d]
audited = [d for d in deps if "skip_reason" not in d]
found = [(d, v) for d in audited for v in d.get("vulns", [])]
for d, v in found:
    fixed = ", ".join(v.get("fix_versions") or []) or "none"
    aliases = ", ".join(v.get("aliases") or [])
    print(f"FINDING {d['name']}=={d['version']} {v['id']} ({aliases}) fixed in: {fixed}")
for d in skipped:
    print(f"NOT AUDITED {d['name']}: {d['skip_reason']}")
print(f"audit: {len(audited)} of {len(deps)} pinned packages of {sys.argv[2]} audited, "
      f"{len(found)} new finding(s), {len(skipped)} not audited")
sys.exit(1 if found else 2 if skipped or not audited else 0)
PY
