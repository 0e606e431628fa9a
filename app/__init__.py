"""Samvirke: a self-hosted crisis-staff support tool."""
