"""Helpers of the tests, imported explicitly (``from support.course import ...``), never through conftest."""
