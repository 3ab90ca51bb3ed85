"""The kiosk's job side, without pygame (the kiosk and `booth snap` share it)."""
