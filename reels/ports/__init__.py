"""Ports: one small interface per outside system, each with an embedded and a production adapter."""
