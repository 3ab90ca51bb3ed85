"""The result screen's layout: where the photo, the texts and each QR code go."""
