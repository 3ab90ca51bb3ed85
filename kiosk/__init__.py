"""The kiosk process: screens, camera, input and the capture pipeline (`booth kiosk`)."""
