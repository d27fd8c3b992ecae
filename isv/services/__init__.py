"""One module per feature; every rule and validation lives here."""
