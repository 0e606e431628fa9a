"""Test support code that is not a fixture: real server processes and the like."""
