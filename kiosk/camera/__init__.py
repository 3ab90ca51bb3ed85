"""Camera backends behind one interface, the probe that picks one, and the watchdog."""

from kiosk.camera.base import Camera, CameraError, Frame
from kiosk.camera.filecam import FileCamera
from kiosk.camera.pick import camera_watchdog, doctor_probe, open_camera
from kiosk.camera.watchdog import CameraWatchdog

__all__ = [
    "Camera",
    "CameraError",
    "Frame",
    "FileCamera",
    "CameraWatchdog",
    "camera_watchdog",
    "doctor_probe",
    "open_camera",
]
