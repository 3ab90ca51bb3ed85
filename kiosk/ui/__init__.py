"""The kiosk's screen side: pygame, the frame loop, the screens."""
