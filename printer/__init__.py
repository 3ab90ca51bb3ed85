"""The printer process (`booth printer`): the booth's print queue through CUPS
(docs/printing.md)."""
