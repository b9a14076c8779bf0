"""Keep/drop rules (license allow-list, quality signals and rules) and content formatters.

Judgments only: rules return a keep mask and a reason from `corpus.core.reasons.DropReason`;
this package never touches the catalog.
"""
