"""Frontends: turn a model from some source into a deploykit IR Graph."""
