"""The token keeper: storing token sets and, later, keeping them fresh."""
