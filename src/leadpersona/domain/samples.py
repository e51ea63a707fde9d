"""Facts shared by the synthetic data, the mock enrichment API and the demo."""

from __future__ import annotations

__all__ = ["DEMO_EMAIL", "DEMO_FIRST_NAME", "DEMO_LAST_NAME"]

# The mock API serves the assignment's provided answer (``data/linkedin_example.json``) for this
# email; ``leads seed`` and the demo always include a lead with it.
DEMO_EMAIL = "julien.keraval@demo.leadpersona.dev"
DEMO_FIRST_NAME = "Julien"
DEMO_LAST_NAME = "Keraval"
