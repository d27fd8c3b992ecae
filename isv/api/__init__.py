"""The REST API (/api/v1): a second front door onto the same services as the pages."""
