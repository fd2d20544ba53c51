"""Pure assistance domain: catalog, plans, measures, terms, follow-up, department simulator."""
