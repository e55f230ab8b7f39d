#!/usr/bin/env python3
"""Reads an XLSX file with openpyxl (Debian python3-openpyxl) and prints every sheet as JSON:
[{"title": ..., "rows": [[cell, ...], ...]}], datetimes as {"datetime": ISO}, numbers as
numbers. Used by the reports e2e test to check the file with a real reader."""
import datetime
import json
import sys

import openpyxl


def cell(v):
    if isinstance(v, datetime.datetime):
        return {"datetime": v.isoformat()}
    return v


wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
out = []
for ws in wb.worksheets:
    out.append({"title": ws.title, "rows": [[cell(v) for v in row] for row in ws.iter_rows(values_only=True)]})
print(json.dumps(out))
