"""Root test configuration: nothing app-specific here, so geo tests run without Flask."""
