"""Accounts: users, sign-in sessions, invites, API tokens and the viewer rules."""
