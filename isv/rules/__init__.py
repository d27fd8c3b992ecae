"""The floor under services and analytics: pure rules that import nothing of theirs.

Services and analytics both read these; keeping them here lets neither import the other
for a constant or a formula (issue 15, the layers that import-linter enforces).
"""
