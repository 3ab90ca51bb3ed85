"""The share server: serves finished results to guests' phones by unguessable token."""
