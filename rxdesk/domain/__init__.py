"""Pure domain: models, enums and rules. No IO, no Textual, nothing of ours below it."""
