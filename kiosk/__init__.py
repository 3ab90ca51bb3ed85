"""The kiosk: screens, camera, input, ledger, MQTT client side and the share server."""
