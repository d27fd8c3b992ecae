"""ISV Pipeline Tracker: the domain package."""
