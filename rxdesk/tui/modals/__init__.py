"""Dialogs: confirmation, typed prompts, cancellation."""
