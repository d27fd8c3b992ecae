"""Read models over the program's data: KPIs (spec/KPIS.md), breakdowns, the dashboard.

- periods: quarters, years and ranges, fiscal-aware;
- kpis: every KPI, one implementation, and its machine-readable form;
- breakdowns: revenue by quarter, pipeline by domain, partners, people;
- dashboard: everything the executive dashboard shows, in one call;
- frames: results as DataFrames for charts, tables and exports;
- cached: the same calls through the shared cache (no SQL when nothing changed).
"""
