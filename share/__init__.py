"""The share process: the HTTP server guests' phones download their photos from (`booth share`)."""
