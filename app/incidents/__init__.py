"""Incidents: what the crisis staff is handling, its alert level and phase."""
