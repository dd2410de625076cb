#!/usr/bin/env python3
"""Summarise checkov's JSON report (make scan): counts, every failed check, every skip
with the justification written in the template; exit 1 on any failed check or on a skip
without a comment."""
import json
import sys

path = sys.argv[1]
try:
    data = json.load(open(path))
except (OSError, ValueError) as e:
    sys.exit(f"checkov produced no readable report at {path}: {e}")
reports = data if isinstance(data, list) else [data]
bad = 0
for r in reports:
    if "results" not in r:  # checkov writes a bare summary when nothing was scanned
        sys.exit(f"checkov scanned nothing: {r}")
    s = r["summary"]
    print(f"checkov {r.get('check_type')}: passed {s['passed']}, failed {s['failed']}, skipped {s['skipped']}, resources {s['resource_count']}")
    for c in r["results"].get("failed_checks", []):
        bad += 1
        print(f"  FAILED {c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}")
    for c in r["results"].get("skipped_checks", []):
        why = (c.get("check_result") or {}).get("suppress_comment", "").strip()
        print(f"  skipped {c['check_id']} {c['resource']}: {why or 'NO JUSTIFICATION'}")
        if not why:
            bad += 1
sys.exit(1 if bad else 0)
