"""Jinja templates shipped with derive (package data)."""
