"""rxdesk: the terminal support desk for a telehealth platform's appointment operations."""

__version__ = "0.1.0"
