"""One module per section or detail screen."""
