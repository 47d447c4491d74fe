from rxdesk.cli import entry

entry()
