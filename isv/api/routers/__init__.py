"""One router per resource of the seed's API Architecture."""
