"""Example inputs shipped with derive (package data)."""
