"""The campaigns tests' fixtures: HQ's demo templates (published) and a few contacts per store."""

from glocal.campaigns.tests.conftest import contacts, templates  # noqa: F401
